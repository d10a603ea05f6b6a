def test_login_page_renders(client):
    r = client.get("/login")
    assert r.status_code == 200
    assert b"Log in" in r.data


def test_researcher_submits_and_sees_result(client, factory):
    from .helpers import form_post_data

    inst = factory.institution()
    user = factory.user(inst, "researcher")
    factory.login(client, user)
    r = client.get("/proposals/")
    assert r.status_code == 200
    r = client.post("/proposals/new", data=form_post_data())
    assert r.status_code == 302, r.data.decode()[:3000]
    r = client.get(r.headers["Location"])
    assert r.status_code == 200
    assert b"Screening result" in r.data
