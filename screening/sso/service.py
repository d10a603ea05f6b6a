"""Single sign-on service: provider configuration, the login policy and signing people in.

Plain functions taking a session and the acting user (``None``: the system, e.g. the command
line); they flush, never commit, and audit every change. Protocol work (SAML, OIDC) lives in
``screening.sso.saml`` and ``screening.sso.oidc``; they hand an :class:`AssertedIdentity` here.
"""

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, delete, select

from screening.accounts import service as accounts
from screening.accounts.models import ROLES, Institution, Membership, Role, User, UserSession
from screening.core import audit
from screening.core.database import utcnow
from screening.core.errors import Conflict, Forbidden, ValidationFailed
from screening.core.security import secret_digest
from screening.sso import oidc, saml, sealing
from screening.sso.identity import (
    DEFAULT_AFFILIATION_CLAIM,
    DEFAULT_ENTITLEMENT_CLAIM,
    AssertedIdentity,
    SsoError,
    check_https_url,
)
from screening.sso.models import (
    ExternalIdentity,
    IdentityProvider,
    InstitutionLoginPolicy,
    SeenAssertion,
    SsoLoginRequest,
    SsoSession,
)

LOGIN_REQUEST_LIFETIME = timedelta(minutes=10)
DEFAULT_RESEARCHER_AFFILIATIONS = ("faculty", "staff")
MAPPING_KEYS = ("scopes", "researcher_affiliations", "entitlement_roles", "affiliation_claim", "entitlement_claim")
_SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
_SCOPE_RE = re.compile(r"^(?=.{3,253}$)[a-z0-9-]+(\.[a-z0-9-]+)+$")
_CLAIM_RE = re.compile(r"^[A-Za-z0-9_:./-]{1,100}$")


@dataclass(frozen=True)
class SignedIn:
    user: User
    institution_id: int
    session_token: str
    user_session_id: int


# ---------------------------------------------------------------- configuration


def normalise_mapping(raw: dict | None) -> dict:
    """Check an attribute mapping and fill in the defaults.

    ``scopes``: domains whose scoped identifiers and affiliations this provider may assert
    (required); ``researcher_affiliations``: affiliations that make someone a researcher;
    ``entitlement_roles``: eduPersonEntitlement value -> role (the only way to any other role);
    ``affiliation_claim`` / ``entitlement_claim``: OIDC claim names.
    """
    raw = dict(raw or {})
    unknown = sorted(set(raw) - set(MAPPING_KEYS))
    if unknown:
        raise ValidationFailed({"mapping": f"unknown keys {', '.join(unknown)}; known: {', '.join(MAPPING_KEYS)}"})
    scopes = _string_list(raw.get("scopes"), "mapping.scopes")
    scopes = [s.lower() for s in scopes]
    if not scopes or not all(_SCOPE_RE.match(s) for s in scopes):
        raise ValidationFailed({"mapping.scopes": "give the institution's domain(s), e.g. uni-a.example"})
    affiliations = _string_list(raw.get("researcher_affiliations", list(DEFAULT_RESEARCHER_AFFILIATIONS)),
                                "mapping.researcher_affiliations")
    entitlement_roles = raw.get("entitlement_roles") or {}
    if not isinstance(entitlement_roles, dict):
        raise ValidationFailed({"mapping.entitlement_roles": "must map entitlement values to roles"})
    for value, role in entitlement_roles.items():
        if not isinstance(value, str) or not value.strip() or len(value) > 500:
            raise ValidationFailed({"mapping.entitlement_roles": "entitlement values must be non-empty text"})
        if role not in ROLES:
            raise ValidationFailed({"mapping.entitlement_roles": f"unknown role {role!r}; known: {', '.join(ROLES)}"})
    claims = {}
    for key, default in (("affiliation_claim", DEFAULT_AFFILIATION_CLAIM),
                         ("entitlement_claim", DEFAULT_ENTITLEMENT_CLAIM)):
        value = raw.get(key, default)
        if not isinstance(value, str) or not _CLAIM_RE.match(value):
            raise ValidationFailed({f"mapping.{key}": "a claim name of letters, digits and _:./-"})
        claims[key] = value
    return {"scopes": scopes, "researcher_affiliations": affiliations,
            "entitlement_roles": dict(entitlement_roles), **claims}


def _string_list(value, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() and len(v) <= 253 for v in value):
        raise ValidationFailed({field: "must be a list of non-empty texts"})
    return [v.strip() for v in value]


def _check_common(session: Session, institution: Institution, protocol: str, slug: str, display_name: str,
                  entity_id: str) -> tuple[str, str]:
    slug = (slug or "").strip().lower()
    if not _SLUG_RE.match(slug):
        raise ValidationFailed({"slug": "use 2-63 lower-case letters, digits and hyphens"})
    display_name = (display_name or "").strip()
    if not display_name or len(display_name) > 200:
        raise ValidationFailed({"display_name": "give a name of at most 200 characters"})
    if not entity_id or len(entity_id) > 500:
        raise ValidationFailed({"entity_id": "give the provider's entity id or issuer (at most 500 characters)"})
    taken = session.exec(select(IdentityProvider).where(
        sa.or_(IdentityProvider.slug == slug,
               sa.and_(IdentityProvider.protocol == protocol, IdentityProvider.entity_id == entity_id)),
        sa.or_(IdentityProvider.institution_id != institution.id, IdentityProvider.protocol != protocol),
    )).first()
    if taken is not None:
        raise Conflict("this slug or entity id is already used by another identity provider")
    return slug, display_name


def _save_provider(session: Session, actor: User | None, institution: Institution, protocol: str,
                   **values) -> IdentityProvider:
    provider = session.exec(select(IdentityProvider).where(
        IdentityProvider.institution_id == institution.id, IdentityProvider.protocol == protocol)).first()
    action = "sso.provider_updated" if provider else "sso.provider_created"
    if provider is None:
        provider = IdentityProvider(institution_id=institution.id, protocol=protocol, **values)
    else:
        for key, value in values.items():
            setattr(provider, key, value)
        provider.updated_at = utcnow()
    session.add(provider)
    session.flush()
    details = {"slug": provider.slug, "protocol": protocol, "entity_id": provider.entity_id,
               "mapping": provider.attribute_mapping}
    if provider.metadata_xml:
        details["metadata_sha256"] = hashlib.sha256(provider.metadata_xml.encode()).hexdigest()
    if provider.metadata_url:
        details["metadata_url"] = provider.metadata_url
    if provider.client_id:
        details["client_id"] = provider.client_id
    audit.record(session, actor, action, "identity_provider", provider.id, institution.id, details)
    return provider


def configure_saml_provider(session: Session, actor: User | None, institution: Institution, *, slug: str,
                            display_name: str, metadata_xml: str, mapping: dict,
                            entity_id: str | None = None, metadata_url: str | None = None) -> IdentityProvider:
    """Add or replace the institution's SAML identity provider.

    ``metadata_xml`` may be the IdP's own metadata or a federation aggregate; only the entity
    ``entity_id`` (needed for an aggregate) is kept.
    """

    entity_id, single_entity = saml.extract_idp_metadata(metadata_xml, entity_id)
    slug, display_name = _check_common(session, institution, "saml", slug, display_name, entity_id)
    return _save_provider(session, actor, institution, "saml", slug=slug, display_name=display_name,
                          entity_id=entity_id, metadata_xml=single_entity, metadata_url=metadata_url,
                          attribute_mapping=normalise_mapping(mapping), enabled=True)


def configure_oidc_provider(session: Session, actor: User | None, institution: Institution, *, slug: str,
                            display_name: str, issuer: str, client_id: str, client_secret: str,
                            mapping: dict) -> IdentityProvider:
    """Add or replace the institution's OpenID Connect provider (discovery at the issuer)."""
    issuer = (issuer or "").strip().rstrip("/")
    check_https_url(issuer, "issuer")
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 300:
        raise ValidationFailed({"client_id": "give the client id registered at the provider"})
    if not client_secret or len(client_secret) > 500:
        raise ValidationFailed({"client_secret": "give the client secret (at most 500 characters)"})
    slug, display_name = _check_common(session, institution, "oidc", slug, display_name, issuer)
    return _save_provider(session, actor, institution, "oidc", slug=slug, display_name=display_name,
                          entity_id=issuer, client_id=client_id, client_secret_sealed=sealing.seal(client_secret),
                          attribute_mapping=normalise_mapping(mapping), enabled=True)


def set_provider_enabled(session: Session, actor: User | None, provider: IdentityProvider, enabled: bool) -> None:
    provider.enabled = enabled
    provider.updated_at = utcnow()
    session.add(provider)
    session.flush()
    audit.record(session, actor, "sso.provider_enabled" if enabled else "sso.provider_disabled",
                 "identity_provider", provider.id, provider.institution_id, {"slug": provider.slug})


def set_password_login(session: Session, actor: User | None, institution: Institution,
                       allowed: bool) -> InstitutionLoginPolicy:
    """Allow or refuse password login for the institution's people (its admins always keep it)."""
    policy = session.get(InstitutionLoginPolicy, institution.id) or InstitutionLoginPolicy(
        institution_id=institution.id)
    policy.password_login = allowed
    policy.updated_at = utcnow()
    session.add(policy)
    session.flush()
    audit.record(session, actor, "sso.password_login_changed", "institution", institution.id, institution.id,
                 {"password_login": allowed})
    return policy


def password_login_enabled(session: Session, institution_id: int) -> bool:
    policy = session.get(InstitutionLoginPolicy, institution_id)
    return policy is None or policy.password_login


def password_login_allowed(session: Session, user: User, institution_id: int) -> bool:
    """Password login is on for the institution, or the user is its administrator (break-glass)."""
    if password_login_enabled(session, institution_id):
        return True
    return Role.institution_admin.value in accounts.roles_in(session, user, institution_id)


# Password login asks this policy too (see accounts.service.PASSWORD_LOGIN_CHECKS).
accounts.PASSWORD_LOGIN_CHECKS.append(password_login_allowed)


def list_providers(session: Session, institution_id: int | None = None) -> list[IdentityProvider]:
    query = select(IdentityProvider).order_by(IdentityProvider.institution_id, IdentityProvider.protocol)
    if institution_id is not None:
        query = query.where(IdentityProvider.institution_id == institution_id)
    return list(session.exec(query).all())


def enabled_provider(session: Session, *, slug: str | None = None, protocol: str | None = None,
                     entity_id: str | None = None) -> IdentityProvider | None:
    """The enabled provider with this slug, or with this protocol and entity id."""
    query = select(IdentityProvider).where(IdentityProvider.enabled.is_(True))
    if slug is not None:
        query = query.where(IdentityProvider.slug == slug)
    if protocol is not None and entity_id is not None:
        query = query.where(IdentityProvider.protocol == protocol, IdentityProvider.entity_id == entity_id)
    return session.exec(query).first()


# ---------------------------------------------------------------- login requests and replay


def new_state() -> str:
    """A single-use state for one sign-in (SAML RelayState, OAuth state)."""
    return secrets.token_urlsafe(32)


def begin_login(session: Session, provider: IdentityProvider, state: str, next_path: str, *,
                request_id: str | None = None, nonce: str | None = None, code_verifier: str | None = None) -> None:
    """Remember a sign-in just started under ``state``; forget expired ones and expired assertion IDs."""
    now = utcnow()
    session.exec(delete(SsoLoginRequest).where(SsoLoginRequest.expires_at < now))
    session.exec(delete(SeenAssertion).where(SeenAssertion.expires_at < now))
    session.add(SsoLoginRequest(state_hash=secret_digest(state), provider_id=provider.id, request_id=request_id,
                                nonce=nonce, code_verifier=code_verifier, next_path=next_path,
                                expires_at=now + LOGIN_REQUEST_LIFETIME))
    session.flush()


def take_login_request(session: Session, state: str | None, protocol: str) -> tuple[SsoLoginRequest,
                                                                                   IdentityProvider]:
    """The sign-in this state belongs to, removed so that it cannot be answered twice."""
    invalid = SsoError("This sign-in is unknown, was already used or has expired. Please start again.",
                       "unknown, used or expired state")
    if not state or not isinstance(state, str) or len(state) > 200:
        raise invalid
    request = session.exec(select(SsoLoginRequest).where(SsoLoginRequest.state_hash == secret_digest(state))).first()
    if request is None:
        raise invalid
    session.delete(request)
    session.flush()
    provider = session.get(IdentityProvider, request.provider_id)
    if request.expires_at < utcnow() or provider is None or provider.protocol != protocol or not provider.enabled:
        raise invalid
    return request, provider


def remember_assertion(session: Session, provider: IdentityProvider, assertion_id: str,
                       expires_at: datetime) -> None:
    """Refuse an assertion whose ID was accepted before (across workers: the table's primary key)."""
    replay = SsoError("This sign-in answer was already used. Please start again.", "replayed assertion")
    if not assertion_id or len(assertion_id) > 256 or session.get(SeenAssertion, assertion_id) is not None:
        raise replay
    try:
        with session.begin_nested():
            session.add(SeenAssertion(assertion_id=assertion_id, provider_id=provider.id,
                                      expires_at=max(expires_at, utcnow() + LOGIN_REQUEST_LIFETIME)))
    except IntegrityError as exc:
        raise replay from exc


# ---------------------------------------------------------------- signing in


def _scope_of(value: str) -> str | None:
    return value.rsplit("@", 1)[1].lower() if "@" in value else None


def roles_from_attributes(provider: IdentityProvider, identity: AssertedIdentity) -> tuple[set[str], set[str]]:
    """(roles from affiliations, roles from mapped entitlements).

    Affiliations only ever make someone a researcher, and only with a scope of this provider;
    every other role needs an entitlement the administrator mapped.
    """
    mapping = provider.attribute_mapping
    scopes = set(mapping.get("scopes", []))
    researcher_affiliations = set(mapping.get("researcher_affiliations", DEFAULT_RESEARCHER_AFFILIATIONS))
    from_affiliation = set()
    for value in identity.affiliations:
        kind, _, scope = value.partition("@")
        if scope.lower() in scopes and kind.lower() in researcher_affiliations:
            from_affiliation.add(Role.researcher.value)
    entitlement_roles = mapping.get("entitlement_roles", {})
    from_entitlement = {entitlement_roles[e] for e in identity.entitlements if e in entitlement_roles}
    return from_affiliation, from_entitlement


def _refuse(reason: str, message: str) -> SsoError:
    return SsoError(message, reason, status=403)


def complete_saml_login(session: Session, relay_state: str | None,
                        saml_response: str | None) -> tuple[SignedIn, str]:
    """Verify the SAML answer posted to our ACS and sign its person in: (signed in, next path).

    Every refusal (unknown or used RelayState, signature, audience, validity window, issuer,
    replayed assertion, and whatever :func:`sign_in` refuses) is audited as
    ``sso.login_refused`` and raised as :class:`SsoError`; the caller commits either way, so
    the used RelayState, the seen assertion and the audit record stay.
    """
    provider = None
    try:
        login_request, provider = take_login_request(session, relay_state, "saml")
        assertion = saml.read_response(provider, saml.decode_posted_response(saml_response or ""),
                                       login_request.request_id)
        remember_assertion(session, provider, assertion.assertion_id, assertion.not_on_or_after)
    except SsoError as exc:
        record_refusal(session, provider, "saml", exc)
        raise
    signed_in = sign_in(session, provider, assertion.identity, name_id=assertion.name_id,
                        session_index=assertion.session_index)
    return signed_in, login_request.next_path


def complete_oidc_login(session: Session, state: str | None, browser_state: str | None, *, code: str,
                        provider_error: bool, redirect_uri: str) -> tuple[SignedIn, str]:
    """Finish an OpenID Connect sign-in at our callback: (signed in, next path).

    ``browser_state`` is the state this browser's session remembered when it started; a
    callback carrying another one was started elsewhere. Refusals are audited like SAML's.
    """
    provider = None
    try:
        login_request, provider = take_login_request(session, state, "oidc")
        if browser_state != state:
            raise SsoError(_l("This sign-in was started in another browser. Please start again."),
                           "state not bound to this browser")
        if provider_error:
            raise SsoError(_l("Your identity provider did not sign you in."), "provider returned an error")
        identity = oidc.finish_login(provider, redirect_uri, code, login_request.nonce, login_request.code_verifier)
    except SsoError as exc:
        record_refusal(session, provider, "oidc", exc)
        raise
    return sign_in(session, provider, identity), login_request.next_path


def record_refusal(session: Session, provider: IdentityProvider | None, protocol: str, exc: SsoError) -> None:
    """Audit a refused sign-in; ``provider`` is None when the answer named no sign-in started here."""
    audit.record(session, None, "sso.login_refused", "identity_provider", provider.id if provider else None,
                 provider.institution_id if provider else None,
                 {"provider": provider.slug if provider else None, "protocol": protocol, "reason": exc.reason})


def sign_in(session: Session, provider: IdentityProvider, identity: AssertedIdentity, *,
            name_id: str | None = None, session_index: str | None = None) -> SignedIn:
    """Sign the person the provider vouched for into the provider's institution, and nowhere else.

    Finds the user by (provider, subject), else links an existing account of this institution
    with the same e-mail, else provisions a researcher. Roles from mapped entitlements follow
    the provider: granted when asserted, removed when no longer asserted. A refusal is audited
    (``sso.login_refused``) and raised as :class:`SsoError` after undoing everything else; the
    caller commits either way.
    """
    try:
        with session.begin_nested():
            return _sign_in(session, provider, identity, name_id, session_index)
    except SsoError as exc:
        record_refusal(session, provider, provider.protocol, exc)
        raise


def _sign_in(session: Session, provider: IdentityProvider, identity: AssertedIdentity, name_id: str | None,
             session_index: str | None) -> SignedIn:
    institution = session.get(Institution, provider.institution_id)
    scopes = set(provider.attribute_mapping.get("scopes", []))
    subject_scope = _scope_of(identity.subject)
    if not identity.subject or len(identity.subject) > 500 or (subject_scope and subject_scope not in scopes):
        raise _refuse("identifier outside the provider's scopes",
                      "Your identity provider may not sign in people of this domain here.")
    from_affiliation, from_entitlement = roles_from_attributes(provider, identity)
    link = session.exec(select(ExternalIdentity).where(
        ExternalIdentity.provider_id == provider.id, ExternalIdentity.subject == identity.subject)).first()
    created = False
    if link is not None:
        user = session.get(User, link.user_id)
    else:
        user, created = _find_or_provision(session, provider, institution, identity,
                                           from_affiliation | from_entitlement)
        link = ExternalIdentity(provider_id=provider.id, subject=identity.subject, user_id=user.id)
        session.add(link)
        session.flush()
        audit.record(session, None, "sso.identity_linked", "user", user.id, institution.id,
                     {"provider": provider.slug, "new_user": created})
    if not user.is_active:
        raise _refuse("account disabled", "Your account is disabled.")
    try:
        for role in sorted(from_affiliation | from_entitlement):
            accounts.grant_role(session, None, user, institution, role)
    except Forbidden as exc:
        raise _refuse("account belongs to another institution",
                      "Your account belongs to another institution; ask your administrator.") from exc
    _drop_withdrawn_entitlement_roles(session, provider, link, user, institution, from_affiliation, from_entitlement)
    if identity.name and identity.name.strip() and identity.name.strip()[:200] != user.name:
        user.name = identity.name.strip()[:200]
        session.add(user)
    roles = accounts.roles_in(session, user, institution.id)
    if not roles:
        raise _refuse("no role", "Your account has no role in this service yet. "
                                                    "Ask your institution's administrator for access.")
    link.last_login_at = utcnow()
    session.add(link)
    token = accounts.start_session(session, user, institution.id)
    user_session = _user_session_of_token(session, token)
    session.add(SsoSession(user_session_id=user_session.id, provider_id=provider.id, name_id=name_id,
                           session_index=session_index))
    session.flush()
    audit.record(session, user, "sso.login", "user", user.id, institution.id,
                 {"provider": provider.slug, "protocol": provider.protocol, "roles": sorted(roles)})
    return SignedIn(user=user, institution_id=institution.id, session_token=token, user_session_id=user_session.id)


def _find_or_provision(session: Session, provider: IdentityProvider, institution: Institution,
                       identity: AssertedIdentity, granted: set[str]) -> tuple[User, bool]:
    email = accounts.normalise_email(identity.email or "")
    if not email:
        raise _refuse("no e-mail address", "Your identity provider did not send an e-mail "
                                                              "address; ask it to release 'mail'.")
    existing = session.exec(select(User).where(User.email == email)).first()
    if existing is not None:
        institutions = set(session.exec(select(Membership.institution_id).where(
            Membership.user_id == existing.id)).all())
        if institutions != {institution.id}:
            raise _refuse("e-mail belongs to an account of another institution",
                          "An account with your e-mail address belongs to another institution; "
                          "ask your administrator.")
        return existing, False
    if not granted:
        raise _refuse("no role", "Your account has no role in this service yet. "
                                                    "Ask your institution's administrator for access.")
    name = (identity.name or "").strip()[:200] or email
    try:
        user = accounts.create_user(session, None, institution, email, name, secrets.token_urlsafe(32), [])
    except ValidationFailed as exc:
        raise _refuse("unusable e-mail address",
                      "Your identity provider sent an e-mail address this service cannot use.") from exc
    return user, True


def _drop_withdrawn_entitlement_roles(session: Session, provider: IdentityProvider, link: ExternalIdentity,
                                      user: User, institution: Institution, from_affiliation: set[str],
                                      from_entitlement: set[str]) -> None:
    withdrawn = set(link.entitlement_roles) - from_entitlement - from_affiliation
    for role in sorted(withdrawn):
        session.exec(delete(Membership).where(Membership.user_id == user.id,
                                              Membership.institution_id == institution.id, Membership.role == role))
        audit.record(session, None, "membership.revoked", "user", user.id, institution.id,
                     {"role": role, "provider": provider.slug, "reason": "entitlement no longer asserted"})
    link.entitlement_roles = sorted(from_entitlement)


def _user_session_of_token(session: Session, token: str) -> UserSession | None:
    token_hash = hashlib.sha256(token.encode()).hexdigest()  # as screening.accounts.service stores it
    return session.exec(select(UserSession).where(UserSession.token_hash == token_hash)).first()


def sso_session_of_token(session: Session, token: str) -> SsoSession | None:
    """What single sign-on knows about the login session of this cookie token, if SSO started it."""
    user_session = _user_session_of_token(session, token) if token else None
    return session.get(SsoSession, user_session.id) if user_session else None


def end_sessions_by_name_id(session: Session, provider: IdentityProvider, name_id: str,
                            session_indexes: list[str]) -> int:
    """Single logout started by the provider: end the matching login sessions; returns how many."""
    query = select(SsoSession).where(SsoSession.provider_id == provider.id, SsoSession.name_id == name_id)
    if session_indexes:
        query = query.where(SsoSession.session_index.in_(session_indexes))
    ended = 0
    for row in session.exec(query).all():
        user_session = session.get(UserSession, row.user_session_id)
        if user_session is not None:
            audit.record(session, None, "sso.logout", "user", user_session.user_id, provider.institution_id,
                         {"provider": provider.slug, "initiated_by": "identity provider"})
            session.delete(user_session)
            ended += 1
    session.flush()
    return ended
