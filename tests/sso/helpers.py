"""Checks shared by the SAML and OIDC tests: a refused sign-in fails closed, visibly and audited."""

from sqlmodel import func, select

from screening.accounts.models import UserSession
from screening.core.extensions import db
from screening.core.models import AuditEvent


def session_count() -> int:
    return db.session.exec(select(func.count()).select_from(UserSession)).one()


def assert_refused(response, status: int = 400, reason: str = "") -> AuditEvent:
    """No session, a page saying so with a support reference, and the refusal's audit record."""
    body = response.get_data(as_text=True)
    assert response.status_code == status, body
    assert "Sign-in not completed" in body and "Reference for support" in body
    assert session_count() == 0
    refusal = db.session.exec(select(AuditEvent).where(AuditEvent.action == "sso.login_refused")
                              .order_by(AuditEvent.seq.desc())).first()
    assert refusal is not None, "the refusal was not audited"
    assert reason in refusal.details["reason"], refusal.details
    return refusal
