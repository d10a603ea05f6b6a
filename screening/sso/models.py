"""Tables of single sign-on.

Imported by migrations/env.py so that Alembic sees them. No
``from __future__ import annotations`` here (relationships break).
"""

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from screening.core.database import JSONDict, UTCDateTime, utcnow

PROTOCOLS = ("saml", "oidc")


class IdentityProvider(SQLModel, table=True):
    """An institution's identity provider: SAML IdP or OpenID Connect issuer.

    ``entity_id`` is the SAML entity id or the OIDC issuer; it belongs to exactly one
    institution, so a provider can only ever sign people into its own institution.
    ``attribute_mapping`` holds the scopes, affiliation and entitlement mappings (see
    :func:`screening.sso.service.normalise_mapping`).
    """

    __tablename__ = "identity_provider"
    __table_args__ = (
        sa.UniqueConstraint("institution_id", "protocol"),
        sa.UniqueConstraint("protocol", "entity_id"),
        sa.CheckConstraint("protocol IN ('saml', 'oidc')", name="protocol_known"),
    )

    id: int | None = Field(default=None, primary_key=True)
    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), nullable=False, index=True)
    )
    # Used in URLs (/sso/<slug>/login) and on the login page's button.
    slug: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    display_name: str = Field(sa_column=sa.Column(sa.String(200), nullable=False))
    protocol: str = Field(sa_column=sa.Column(sa.String(8), nullable=False))
    entity_id: str = Field(sa_column=sa.Column(sa.String(500), nullable=False))
    enabled: bool = Field(default=True, nullable=False)
    # SAML: the IdP's metadata document (uploaded, or fetched from metadata_url by the administrator).
    metadata_xml: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    metadata_url: str | None = Field(default=None, sa_column=sa.Column(sa.String(1000), nullable=True))
    # OIDC: the client registered at the provider. The secret is stored encrypted (Fernet token,
    # see screening.sso.sealing), and never logged or shown again.
    client_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(300), nullable=True))
    client_secret_sealed: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    attribute_mapping: dict[str, Any] = Field(default_factory=dict, sa_column=sa.Column(JSONDict, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class ExternalIdentity(SQLModel, table=True):
    """A user as known to one identity provider (``subject``: ePPN, subject-id, pairwise-id or sub)."""

    __tablename__ = "external_identity"
    __table_args__ = (sa.UniqueConstraint("provider_id", "subject"),)

    id: int | None = Field(default=None, primary_key=True)
    provider_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("identity_provider.id", ondelete="CASCADE"), nullable=False)
    )
    subject: str = Field(sa_column=sa.Column(sa.String(500), nullable=False))
    user_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_account.id", ondelete="CASCADE"),
                            nullable=False, index=True)
    )
    # Roles this provider granted through mapped entitlements; dropped again when no longer asserted.
    entitlement_roles: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    last_login_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class SsoLoginRequest(SQLModel, table=True):
    """A sign-in started here and not yet answered; single use, short-lived.

    Kept in the database (not the cookie) because the SAML response arrives as a cross-site POST,
    which carries no SameSite=Lax session cookie, and any worker may receive it.
    """

    __tablename__ = "sso_login_request"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(sa_column=sa.Column(sa.String(64), nullable=False, unique=True))
    provider_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("identity_provider.id", ondelete="CASCADE"), nullable=False)
    )
    # SAML: the AuthnRequest ID the response must answer (InResponseTo).
    request_id: str | None = Field(default=None, sa_column=sa.Column(sa.String(100), nullable=True))
    # OIDC: the nonce the ID token must carry and the PKCE verifier.
    nonce: str | None = Field(default=None, sa_column=sa.Column(sa.String(100), nullable=True))
    code_verifier: str | None = Field(default=None, sa_column=sa.Column(sa.String(128), nullable=True))
    next_path: str = Field(sa_column=sa.Column(sa.String(2000), nullable=False))
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)


class SeenAssertion(SQLModel, table=True):
    """IDs of accepted SAML assertions until they expire: a replayed assertion is refused."""

    __tablename__ = "sso_seen_assertion"

    assertion_id: str = Field(sa_column=sa.Column(sa.String(256), primary_key=True))
    provider_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("identity_provider.id", ondelete="CASCADE"), nullable=False)
    )
    expires_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)


class SsoSession(SQLModel, table=True):
    """What single logout needs about a login session that SSO started (NameID, session index)."""

    __tablename__ = "sso_session"

    user_session_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("user_session.id", ondelete="CASCADE"), primary_key=True)
    )
    provider_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("identity_provider.id", ondelete="CASCADE"),
                            nullable=False)
    )
    name_id: str | None = Field(default=None, sa_column=sa.Column(sa.Text, nullable=True))
    session_index: str | None = Field(default=None, sa_column=sa.Column(sa.String(256), nullable=True))


class InstitutionLoginPolicy(SQLModel, table=True):
    """Whether an institution's people may log in with a password (admins always may: break-glass)."""

    __tablename__ = "institution_login_policy"

    institution_id: int = Field(
        sa_column=sa.Column(sa.Integer, sa.ForeignKey("institution.id"), primary_key=True)
    )
    password_login: bool = Field(default=True, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
