"""Login, sessions, redirects, throttling, headers (scorecard 9, 10, 11)."""

import re
import time

import pytest

from screening.accounts import service as accounts
from screening.core.extensions import db

from .helpers import PASSWORD


def login(client, email, password=PASSWORD, next_=None):
    data = {"email": email, "password": password}
    if next_ is not None:
        data["next"] = next_
    return client.post("/login", data=data)


def normalise(html: str, *values: str) -> str:
    html = re.sub(r'value="[^"]*"', 'value=""', html)
    for v in values:
        html = html.replace(v, "X")
    return html


def test_login_success_sets_hardened_cookie_and_redirects(client, factory):
    inst = factory.institution()
    user = factory.user(inst, "researcher")
    r = login(client, user.email)
    assert r.status_code == 302
    assert r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_wrong_password_and_unknown_user_look_the_same(client, factory):
    inst = factory.institution()
    user = factory.user(inst, "researcher")
    t0 = time.perf_counter()
    known = login(client, user.email, "wrong password here")
    t1 = time.perf_counter()
    unknown = login(client, "nobody@example.org", "wrong password here")
    t2 = time.perf_counter()
    assert known.status_code == unknown.status_code == 200
    assert normalise(known.get_data(as_text=True), user.email) == normalise(
        unknown.get_data(as_text=True), "nobody@example.org")
    # Both paths verify an argon2 hash; the timings are of the same order.
    assert (t1 - t0) < 5 * (t2 - t1) + 0.05 and (t2 - t1) < 5 * (t1 - t0) + 0.05


def test_disabled_user_cannot_log_in(client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    accounts.set_active(db.session, None, user, False)
    db.session.commit()
    assert "Invalid e-mail or password" in login(client, user.email).get_data(as_text=True)


def test_brute_force_on_one_account_is_throttled_without_permanent_lockout(app, client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    limit = app.config["LOGIN_LIMIT_ACCOUNT"][0]
    for _ in range(limit):
        assert login(client, user.email, "wrong password!!").status_code == 200
    r = login(client, user.email, PASSWORD)
    assert r.status_code == 429
    # The window passes: the real owner gets in again.
    app.extensions["ratelimit_store"].reset()
    assert login(client, user.email).status_code == 302


def test_many_accounts_from_one_address_are_throttled(app, client):
    limit = app.config["LOGIN_LIMIT_ADDRESS"][0]
    statuses = [login(client, f"u{i}@example.org", "whatever password").status_code for i in range(limit + 1)]
    assert statuses[-1] == 429 and set(statuses[:-1]) == {200}


def test_behind_a_trusted_proxy_the_throttle_counts_the_forwarded_client_address(app, client, monkeypatch):
    from werkzeug.middleware.proxy_fix import ProxyFix

    monkeypatch.setattr(app, "wsgi_app", ProxyFix(app.wsgi_app, x_for=1, x_proto=1))  # TRUSTED_PROXY_HOPS=1
    limit = app.config["LOGIN_LIMIT_ADDRESS"][0]
    for i in range(limit):
        client.post("/login", data={"email": f"u{i}@example.org", "password": "x" * 12},
                    headers={"X-Forwarded-For": "203.0.113.7"})
    other_client = client.post("/login", data={"email": "other@example.org", "password": "x" * 12},
                               headers={"X-Forwarded-For": "198.51.100.4"})
    same_client = client.post("/login", data={"email": "more@example.org", "password": "x" * 12},
                              headers={"X-Forwarded-For": "203.0.113.7"})
    assert other_client.status_code == 200 and same_client.status_code == 429


def test_trusted_proxy_hops_wrap_the_application():
    from werkzeug.middleware.proxy_fix import ProxyFix

    from screening import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "p" * 40, "DATABASE_URL": "sqlite://", "TRUSTED_PROXY_HOPS": 1})
    assert isinstance(app.wsgi_app, ProxyFix) and app.wsgi_app.x_for == 1 and app.wsgi_app.x_proto == 1


def test_rate_limit_window_expires():
    from screening.core.ratelimit import MemoryStore

    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    assert [store.hit("k", 60) for _ in range(3)] == [1, 2, 3]
    now[0] += 61
    assert store.hit("k", 60) == 1


@pytest.mark.parametrize("target", [
    "//evil.example", "https:evil.example", "/\\evil.example", "///evil.example", "javascript:alert(1)",
    "https://evil.example/", "\\\\evil.example", "/%0d%0aLocation: x", " //evil.example", "/\tevil",
])
def test_next_never_leaves_the_site(client, factory, target):
    inst = factory.institution()
    user = factory.user(inst)
    r = login(client, user.email, next_=target)
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\\" not in location
    assert "evil" not in location or location.startswith("/%")


def test_next_to_a_local_page_is_kept(client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    r = login(client, user.email, next_="/proposals/new")
    assert r.headers["Location"] == "/proposals/new"


def test_session_is_renewed_at_login(client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    with client.session_transaction() as sess:
        sess["sid"] = "attacker-chosen"
        sess["planted"] = "x"
    login(client, user.email)
    with client.session_transaction() as sess:
        assert sess["sid"] != "attacker-chosen"
        assert "planted" not in sess


def _copied_cookie(client):
    cookie = client.get_cookie("screening_session")
    return cookie.value


def _replay(app, value):
    other = app.test_client()
    other.set_cookie("screening_session", value)
    return other.get("/proposals/")


def test_cookie_copied_before_logout_is_rejected(app, client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    login(client, user.email)
    stolen = _copied_cookie(client)
    assert _replay(app, stolen).status_code == 200
    client.post("/logout")
    r = _replay(app, stolen)
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_cookie_copied_before_password_change_is_rejected(app, client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    login(client, user.email)
    stolen = _copied_cookie(client)
    r = client.post("/account/password", data={"current_password": PASSWORD,
                                               "new_password": "a brand new passphrase",
                                               "confirm": "a brand new passphrase"})
    assert r.status_code == 302
    assert _replay(app, stolen).status_code == 302
    assert client.get("/proposals/").status_code == 200  # the changing session continues


def test_cookie_copied_before_account_disable_is_rejected(app, client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    login(client, user.email)
    stolen = _copied_cookie(client)
    accounts.set_active(db.session, None, user, False)
    db.session.commit()
    assert _replay(app, stolen).status_code == 302


def test_security_headers(client):
    r = client.get("/login")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["X-Frame-Options"] == "DENY"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.headers["Referrer-Policy"]
    assert r.headers["X-Request-ID"]


def test_no_inline_scripts_or_styles(client, factory):
    inst = factory.institution()
    factory.login(client, factory.user(inst))
    for url in ("/login", "/proposals/", "/proposals/new", "/account"):
        html = client.get(url).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), url
        assert "<style" not in html and " style=" not in html, url
        assert "onclick=" not in html and "onload=" not in html, url


def test_redis_rate_limit_store_counts_and_expires():
    import os

    url = os.environ.get("SCREENING_TEST_REDIS_URL")
    if not url:
        pytest.skip("SCREENING_TEST_REDIS_URL not set")
    import uuid

    from screening.core.ratelimit import RedisStore

    store = RedisStore(url)
    key = f"test-{uuid.uuid4().hex}"
    try:
        assert [store.hit(key, 60) for _ in range(3)] == [1, 2, 3]
    finally:
        store.close()


def test_rate_limiter_fails_open_when_store_is_down(app):
    from screening.core.extensions import limiter
    from screening.core.ratelimit import RedisStore

    saved = app.extensions["ratelimit_store"]
    down = RedisStore("redis://127.0.0.1:1/0")
    app.extensions["ratelimit_store"] = down
    try:
        assert limiter.exceeded("k", (1, 60)) is False
    finally:
        app.extensions["ratelimit_store"] = saved
        down.close()
