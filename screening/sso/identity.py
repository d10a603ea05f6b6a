"""What the protocol layers (SAML, OIDC) hand to the sign-in service, and how they refuse.

Below both :mod:`screening.sso.saml` / :mod:`screening.sso.oidc` and :mod:`screening.sso.service`,
so that the service may call the protocols and the protocols may use these types.
"""

from dataclasses import dataclass
from urllib.parse import urlsplit

from screening.core.errors import DomainError, ValidationFailed

DEFAULT_AFFILIATION_CLAIM = "eduperson_scoped_affiliation"
DEFAULT_ENTITLEMENT_CLAIM = "eduperson_entitlement"


class SsoError(DomainError):
    """A sign-in that cannot go on; ``message`` is for the person signing in, ``reason`` for the log."""

    def __init__(self, message: str, reason: str, status: int = 400):
        super().__init__(reason)
        self.message = message
        self.reason = reason
        self.status = status


class SsoUnavailable(SsoError):
    """Single sign-on is not configured well enough to work (answers 503)."""


@dataclass(frozen=True)
class AssertedIdentity:
    """What an identity provider vouched for, already verified by the protocol layer."""

    subject: str
    email: str | None
    name: str | None
    affiliations: tuple[str, ...] = ()  # scoped, e.g. "faculty@uni-a.example"
    entitlements: tuple[str, ...] = ()


def check_https_url(url: str, field: str) -> None:
    """HTTPS, or plain HTTP to this machine only (development and the tests' loopback provider)."""
    parts = urlsplit(url or "")
    local = parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    if not (parts.scheme == "https" or local) or not parts.hostname or len(url) > 1000:
        raise ValidationFailed({field: "must be an https:// address"})
