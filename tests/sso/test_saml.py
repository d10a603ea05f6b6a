"""SAML sign-in against a real pysaml2 identity provider posting signed responses to our ACS."""

from sqlmodel import select

from screening.extensions import db
from screening.models import AuditEvent, User

from .idp import researcher_attributes


def start_login(client, slug="uni-a-saml", next_path="/proposals/"):
    response = client.get(f"/sso/{slug}/login", query_string={"next": next_path})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"]


def test_a_researcher_signs_in_and_is_provisioned(client, idp, saml_provider):
    form = idp.answer(start_login(client), researcher_attributes())
    response = client.post("/sso/saml/acs", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/proposals/"
    user = db.session.exec(select(User).where(User.email == "alice@uni-a.example")).one()
    assert user.name == "Alice Example"
    assert client.get("/proposals/").status_code == 200
    actions = [e.action for e in db.session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all()]
    assert "sso.login" in actions and "user.created" in actions
