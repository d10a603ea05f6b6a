"""OpenID Connect relying party with Authlib: authorisation code flow with PKCE (S256).

Discovery at ``{issuer}/.well-known/openid-configuration`` (its ``issuer`` must equal the
configured one), the code exchanged at the token endpoint with the client secret and the PKCE
verifier, and the ID token verified with joserfc (Authlib's JOSE library): signature with the
provider's JWKS, ``iss``, ``aud`` (and ``azp`` when there are several audiences), ``exp``,
``iat`` and the ``nonce`` of this sign-in. Claims: ``sub``, ``email``, ``name`` and the
mapping's affiliation and entitlement claims.
"""

import json
import logging
import secrets
import time

import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc6749.errors import OAuth2Error
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from screening.sso import sealing
from screening.sso.identity import (
    DEFAULT_AFFILIATION_CLAIM,
    DEFAULT_ENTITLEMENT_CLAIM,
    AssertedIdentity,
    SsoError,
    check_https_url,
)
from screening.sso.models import IdentityProvider

log = logging.getLogger("screening.sso")

HTTP_TIMEOUT_SECONDS = 10
MAX_DOCUMENT_BYTES = 256 * 1024
ACCEPTED_CLOCK_SKEW_SECONDS = 120
SIGNING_ALGORITHMS = ("RS256", "PS256", "ES256")
DISCOVERY_CACHE_SECONDS = 300
_discovery_cache: dict[str, tuple[float, dict]] = {}

UNREACHABLE = "Your identity provider could not be reached. Please try again later."
NOT_VERIFIED = "Your identity provider's answer could not be verified. Please try again."


def _get_json(url: str, what: str) -> dict:
    check_https_url(url, what)
    try:
        response = requests.get(url, timeout=HTTP_TIMEOUT_SECONDS, allow_redirects=False, stream=True)
        body = response.raw.read(MAX_DOCUMENT_BYTES + 1, decode_content=True)
        response.close()
    except requests.RequestException as exc:
        log.warning("OIDC %s unreachable: %s", what, type(exc).__name__)
        raise SsoError(UNREACHABLE, f"{what} unreachable", status=502) from exc
    if response.status_code != 200 or len(body) > MAX_DOCUMENT_BYTES:
        raise SsoError(UNREACHABLE, f"{what} answered {response.status_code}", status=502)
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise SsoError(UNREACHABLE, f"{what} is not JSON", status=502) from exc
    if not isinstance(document, dict):
        raise SsoError(UNREACHABLE, f"{what} is not a JSON object", status=502)
    return document


def discover(provider: IdentityProvider) -> dict:
    """The provider's discovery document (cached for a few minutes per process)."""
    cached = _discovery_cache.get(provider.entity_id)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    document = _get_json(f"{provider.entity_id}/.well-known/openid-configuration", "discovery document")
    if document.get("issuer") != provider.entity_id:
        raise SsoError(NOT_VERIFIED, "discovery document names another issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(document.get(key), str):
            raise SsoError(UNREACHABLE, f"discovery document has no {key}", status=502)
    _discovery_cache[provider.entity_id] = (time.monotonic() + DISCOVERY_CACHE_SECONDS, document)
    return document


def _client(provider: IdentityProvider, redirect_uri: str) -> OAuth2Session:
    return OAuth2Session(client_id=provider.client_id, client_secret=sealing.unseal(provider.client_secret_sealed),
                         token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
                         scope="openid email profile", redirect_uri=redirect_uri, code_challenge_method="S256")


def new_secrets() -> tuple[str, str]:
    """(nonce, PKCE code verifier) for one sign-in."""
    return secrets.token_urlsafe(32), generate_token(64)


def authorization_url(provider: IdentityProvider, redirect_uri: str, state: str, nonce: str,
                      code_verifier: str) -> str:
    document = discover(provider)
    with _client(provider, redirect_uri) as client:
        url, _ = client.create_authorization_url(document["authorization_endpoint"], state=state, nonce=nonce,
                                                 code_verifier=code_verifier)
    return url


def finish_login(provider: IdentityProvider, redirect_uri: str, code: str, nonce: str,
                 code_verifier: str) -> AssertedIdentity:
    """Exchange the code, verify the ID token and read the person from its claims."""
    if not code or len(code) > 2000:
        raise SsoError(NOT_VERIFIED, "no authorisation code")
    document = discover(provider)
    try:
        with _client(provider, redirect_uri) as client:
            token = client.fetch_token(document["token_endpoint"], code=code, code_verifier=code_verifier,
                                       timeout=HTTP_TIMEOUT_SECONDS, allow_redirects=False)
    except (OAuthError, OAuth2Error, requests.RequestException, ValueError) as exc:
        log.warning("OIDC token exchange failed for provider %s: %s", provider.slug, type(exc).__name__)
        raise SsoError(NOT_VERIFIED, f"token exchange failed ({type(exc).__name__})") from exc
    claims = verify_id_token(provider, document, token.get("id_token"), nonce)
    mapping = provider.attribute_mapping
    return AssertedIdentity(
        subject=_text_claim(claims, "sub"),
        email=_text_claim(claims, "email") if claims.get("email_verified", True) is not False else None,
        name=_text_claim(claims, "name"),
        affiliations=_list_claim(claims, mapping.get("affiliation_claim", DEFAULT_AFFILIATION_CLAIM)),
        entitlements=_list_claim(claims, mapping.get("entitlement_claim", DEFAULT_ENTITLEMENT_CLAIM)),
    )


def verify_id_token(provider: IdentityProvider, document: dict, id_token: object, nonce: str) -> dict:
    if not isinstance(id_token, str) or len(id_token) > 64 * 1024:
        raise SsoError(NOT_VERIFIED, "no ID token")
    try:
        keys = KeySet.import_key_set(_get_json(document["jwks_uri"], "JWKS"))
        decoded = jwt.decode(id_token, keys, algorithms=list(SIGNING_ALGORITHMS))
        jwt.JWTClaimsRegistry(
            leeway=ACCEPTED_CLOCK_SKEW_SECONDS,
            iss={"essential": True, "value": provider.entity_id},
            aud={"essential": True, "value": provider.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True, "value": nonce},
        ).validate(decoded.claims)
    except (JoseError, ValueError, TypeError, KeyError) as exc:
        log.warning("OIDC ID token refused for provider %s: %s", provider.slug, type(exc).__name__)
        raise SsoError(NOT_VERIFIED, f"ID token refused ({type(exc).__name__})") from exc
    claims = decoded.claims
    audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise SsoError(NOT_VERIFIED, "ID token for several audiences without our azp")
    return claims


def _text_claim(claims: dict, name: str) -> str | None:
    value = claims.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _list_claim(claims: dict, name: str) -> tuple[str, ...]:
    value = claims.get(name)
    if isinstance(value, str):
        value = [value]
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()
