"""Scorecard 4: every form needs a valid CSRF token; nothing is written without one."""

import pytest
from sqlmodel import func, select

from screening.accounts.models import UserSession
from screening.core.extensions import db
from screening.proposals.models import Proposal

from .helpers import PASSWORD, csrf_token_from, form_post_data

pytestmark = pytest.mark.usefixtures("csrf_enabled")


def forms(p_id):
    return [
        ("/login", {"email": "x@example.org", "password": "whatever password"}),
        ("/logout", {}),
        ("/language", {"language": "de"}),
        ("/account/password", {"current_password": PASSWORD, "new_password": "n" * 14, "confirm": "n" * 14}),
        ("/proposals/new", form_post_data(action="save")),
        (f"/proposals/{p_id}/edit", form_post_data(action="save", title="changed title")),
        (f"/proposals/{p_id}/withdraw", {}),
    ]


@pytest.mark.parametrize("token", [None, "wrong-token", "expired"])
def test_posts_without_valid_token_are_rejected(app, client, factory, token):
    inst = factory.institution()
    user = factory.user(inst)
    p = factory.proposal(user, inst, title="Original title")
    factory.login(client, user)
    client.get("/proposals/")  # the session holds a CSRF secret now
    if token == "expired":
        from itsdangerous import URLSafeTimedSerializer

        html = client.get("/proposals/new").get_data(as_text=True)
        good = csrf_token_from(html)
        app.config["WTF_CSRF_TIME_LIMIT"] = 1
        import time

        time.sleep(2.1)
        token_value = good
        del URLSafeTimedSerializer
    else:
        token_value = token
    try:
        for url, data in forms(p.id):
            if token_value is not None:
                data = {**data, "csrf_token": token_value}
            r = client.post(url, data=data)
            assert r.status_code == 400, (url, r.status_code)
    finally:
        app.config["WTF_CSRF_TIME_LIMIT"] = 3600 * 8
    db.session.expire_all()
    fresh = db.session.get(Proposal, p.id)
    assert fresh.title == "Original title" and fresh.status == "draft"
    assert db.session.exec(select(func.count()).select_from(Proposal)).one() == 1
    assert db.session.exec(select(func.count()).select_from(UserSession)).one() == 1  # still logged in


def test_valid_token_is_accepted(client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    factory.login(client, user)
    html = client.get("/proposals/new").get_data(as_text=True)
    token = csrf_token_from(html)
    r = client.post("/proposals/new", data=form_post_data(action="save", csrf_token=token))
    assert r.status_code == 302


def test_login_form_needs_token(client, factory):
    inst = factory.institution()
    user = factory.user(inst)
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 400
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 302
