"""SAML 2.0 service provider with pysaml2 (xmlsec1 signs and verifies).

One SP for the whole installation: entity id ``{BASE_URL}/sso/saml/metadata``, assertion consumer
``{BASE_URL}/sso/saml/acs`` (HTTP-POST), single logout ``{BASE_URL}/sso/saml/slo`` (HTTP-Redirect).
The key pair comes from ``SAML_SP_KEY_FILE`` / ``SAML_SP_CERT_FILE``; outside production a
self-signed pair is made in ``instance/saml/`` on first use.

Each call builds a pysaml2 client that knows exactly one IdP (the provider's stored metadata),
so a response signed by any other IdP fails signature verification.
"""

import base64
import logging
import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from flask import current_app
from lxml import etree
from saml2 import BINDING_HTTP_POST, BINDING_HTTP_REDIRECT
from saml2.client import Saml2Client
from saml2.config import SPConfig
from saml2.metadata import create_metadata_string
from saml2.s_utils import decode_base64_and_inflate
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT, name_id_from_string
from saml2.samlp import logout_request_from_string
from saml2.xmldsig import DIGEST_SHA256, SIG_RSA_SHA256

from screening.core.config import is_production
from screening.core.errors import ValidationFailed
from screening.sso.identity import AssertedIdentity, SsoError, SsoUnavailable
from screening.sso.models import IdentityProvider

log = logging.getLogger("screening.sso")
# pysaml2 logs whole messages (assertions, attributes) at DEBUG and INFO: keep them out of the logs.
logging.getLogger("saml2").setLevel(logging.WARNING)

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
ACCEPTED_CLOCK_SKEW_SECONDS = 120
MAX_RESPONSE_BYTES = 512 * 1024
SUBJECT_ATTRIBUTES = ("eduPersonPrincipalName", "subject-id", "pairwise-id")
# Attribute names pysaml2 does not translate to a friendly name (SAML V2.0 Subject Identifier Attributes).
_URN_ALIASES = {
    "urn:oasis:names:tc:SAML:attribute:subject-id": "subject-id",
    "urn:oasis:names:tc:SAML:attribute:pairwise-id": "pairwise-id",
}
_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


def sp_entity_id() -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}/sso/saml/metadata"


def _url(path: str) -> str:
    return f"{current_app.config['BASE_URL'].rstrip('/')}{path}"


def _key_pair() -> tuple[str, str]:
    key, cert = current_app.config.get("SAML_SP_KEY_FILE"), current_app.config.get("SAML_SP_CERT_FILE")
    if key and cert:
        if not (Path(key).is_file() and Path(cert).is_file()):
            raise SsoUnavailable("Single sign-on is not available right now.",
                                 "SAML_SP_KEY_FILE or SAML_SP_CERT_FILE does not exist")
        return str(key), str(cert)
    if is_production(current_app):
        raise SsoUnavailable("Single sign-on is not available right now.",
                             "SAML_SP_KEY_FILE and SAML_SP_CERT_FILE must be set in production")
    folder = Path(current_app.instance_path) / "saml"
    key_path, cert_path = folder / "sp-key.pem", folder / "sp-cert.pem"
    if not (key_path.exists() and cert_path.exists()):
        write_self_signed_pair(key_path, cert_path, common_name="screening SAML SP (development)")
    return str(key_path), str(cert_path)


def write_self_signed_pair(key_path: Path, cert_path: Path, common_name: str, days: int = 3650) -> None:
    """A new RSA key and a self-signed certificate (SAML metadata keys need no CA)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days)).sign(key, hashes.SHA256()))
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption()))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _xmlsec() -> str:
    binary = shutil.which("xmlsec1")
    if binary is None:
        raise SsoUnavailable("Single sign-on is not available right now.",
                             "xmlsec1 is not installed (Debian package xmlsec1)")
    return binary


def sp_config(provider: IdentityProvider | None = None) -> SPConfig:
    key_file, cert_file = _key_pair()
    settings = {
        "entityid": sp_entity_id(),
        "key_file": key_file,
        "cert_file": cert_file,
        "encryption_keypairs": [{"key_file": key_file, "cert_file": cert_file}],
        "xmlsec_binary": _xmlsec(),
        "accepted_time_diff": ACCEPTED_CLOCK_SKEW_SECONDS,
        "signing_algorithm": SIG_RSA_SHA256,
        "digest_algorithm": DIGEST_SHA256,
        "allow_unknown_attributes": True,
        "service": {"sp": {
            "name": "Research collaboration screening",
            "endpoints": {
                "assertion_consumer_service": [(_url("/sso/saml/acs"), BINDING_HTTP_POST)],
                "single_logout_service": [(_url("/sso/saml/slo"), BINDING_HTTP_REDIRECT)],
            },
            "want_assertions_signed": True,
            "want_response_signed": False,
            "authn_requests_signed": True,
            "logout_requests_signed": True,
            "allow_unsolicited": False,
            "name_id_format": [NAMEID_FORMAT_PERSISTENT, NAMEID_FORMAT_TRANSIENT],
            "required_attributes": ["eduPersonPrincipalName", "mail"],
            "optional_attributes": ["displayName", "eduPersonScopedAffiliation", "eduPersonEntitlement"],
        }},
    }
    if provider is not None:
        settings["metadata"] = {"inline": [provider.metadata_xml]}
    config = SPConfig()
    config.load(settings)
    return config


def sp_metadata() -> bytes:
    """Our SP metadata (unsigned; the administrator passes it to the federation or the IdP)."""
    return create_metadata_string(None, config=sp_config(), valid=24 * 365)


def extract_idp_metadata(metadata_xml: str, entity_id: str | None = None) -> tuple[str, str]:
    """(entity id, that entity's metadata) from an IdP's metadata or a federation aggregate."""
    if not metadata_xml or not metadata_xml.strip():
        raise ValidationFailed({"metadata": "give the identity provider's SAML metadata"})
    try:
        root = etree.fromstring(metadata_xml.encode("utf-8"), parser=_XML_PARSER)
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise ValidationFailed({"metadata": "not well-formed XML"}) from exc
    candidates = [root] if root.tag == f"{{{MD}}}EntityDescriptor" else root.iter(f"{{{MD}}}EntityDescriptor")
    idps = [e for e in candidates if e.find(f"{{{MD}}}IDPSSODescriptor") is not None]
    if entity_id:
        idps = [e for e in idps if e.get("entityID") == entity_id]
    if len(idps) != 1:
        raise ValidationFailed({"metadata": "no identity provider with this entity id in the metadata"
                                if entity_id or not idps else
                                "the metadata describes several identity providers; name the entity id"})
    entity = idps[0]
    single = etree.tostring(entity, encoding="unicode")
    _check_idp_usable(entity.get("entityID"), single)
    return entity.get("entityID"), single


def _check_idp_usable(entity_id: str, single_entity_xml: str) -> None:
    probe = IdentityProvider(institution_id=0, slug="probe", display_name="probe", protocol="saml",
                             entity_id=entity_id, metadata_xml=single_entity_xml)
    try:
        metadata = sp_config(probe).metadata
        endpoints = metadata.single_sign_on_service(entity_id, BINDING_HTTP_REDIRECT)
        certificates = metadata.certs(entity_id, "idpsso", use="signing")
    except SsoError:
        raise
    except Exception as exc:  # pysaml2 raises many kinds of errors on bad metadata
        raise ValidationFailed({"metadata": f"pysaml2 cannot read it ({type(exc).__name__})"}) from exc
    if not endpoints:
        raise ValidationFailed({"metadata": "the identity provider offers no HTTP-Redirect SingleSignOnService"})
    if not certificates:
        raise ValidationFailed({"metadata": "the identity provider publishes no signing certificate"})


def start_login(provider: IdentityProvider, relay_state: str) -> tuple[str, str]:
    """A signed AuthnRequest for the redirect binding: (request id, URL to send the browser to)."""
    client = Saml2Client(sp_config(provider))
    request_id, info = client.prepare_for_authenticate(entityid=provider.entity_id, relay_state=relay_state,
                                                       binding=BINDING_HTTP_REDIRECT)
    location = dict(info["headers"])["Location"]
    return request_id, location


@dataclass(frozen=True)
class VerifiedAssertion:
    identity: AssertedIdentity
    assertion_id: str
    not_on_or_after: datetime
    name_id: str | None
    session_index: str | None


def read_response(provider: IdentityProvider, saml_response: str, request_id: str) -> VerifiedAssertion:
    """Verify a posted SAMLResponse answering ``request_id`` and read the person from it.

    pysaml2 checks the assertion signature against the provider's metadata certificates, the
    issuer, audience, recipient and destination, InResponseTo and the validity window (with
    ``ACCEPTED_CLOCK_SKEW_SECONDS``). Refusals are logged by exception type only.
    """
    refused = SsoError("Your identity provider's answer could not be verified. Please try again.",
                       "SAML response refused")
    if not saml_response or len(saml_response) > MAX_RESPONSE_BYTES:
        raise refused
    client = Saml2Client(sp_config(provider))
    try:
        response = client.parse_authn_request_response(saml_response, BINDING_HTTP_POST,
                                                       outstanding={request_id: "/"})
    except Exception as exc:  # signature, audience, time, status, XML: pysaml2 has no common base class
        log.warning("SAML response refused for provider %s: %s", provider.slug, type(exc).__name__)
        raise SsoError(refused.message, f"SAML response refused ({type(exc).__name__})") from exc
    if response is None or response.assertion is None:
        log.warning("SAML response refused for provider %s: no assertion", provider.slug)
        raise refused
    if response.issuer() != provider.entity_id:
        raise SsoError(refused.message, "SAML response from another issuer")
    attributes = {_URN_ALIASES.get(k, k): [str(v) for v in values] for k, values in (response.ava or {}).items()}
    subject = next((attributes[a][0] for a in SUBJECT_ATTRIBUTES if attributes.get(a)), None)
    if not subject:
        raise SsoError("Your identity provider did not send a stable identifier (eduPersonPrincipalName, "
                       "subject-id or pairwise-id).", "no subject attribute")
    statements = response.assertion.authn_statement
    session_index = statements[0].session_index if statements else None
    not_on_or_after = response.not_on_or_after or 0
    return VerifiedAssertion(
        identity=AssertedIdentity(
            subject=subject,
            email=(attributes.get("mail") or [None])[0],
            name=(attributes.get("displayName") or attributes.get("cn") or [None])[0],
            affiliations=tuple(attributes.get("eduPersonScopedAffiliation", [])),
            entitlements=tuple(attributes.get("eduPersonEntitlement", [])),
        ),
        assertion_id=response.assertion.id,
        not_on_or_after=datetime.fromtimestamp(not_on_or_after, UTC) if not_on_or_after else datetime.now(UTC),
        name_id=str(response.name_id) if response.name_id is not None else None,
        session_index=session_index,
    )


def logout_request_url(provider: IdentityProvider, name_id: str, session_index: str | None) -> str | None:
    """Where to send the browser for SP-initiated single logout, if the provider offers it."""
    client = Saml2Client(sp_config(provider))
    destinations = client.metadata.single_logout_service(provider.entity_id, BINDING_HTTP_REDIRECT, "idpsso")
    if not destinations:
        return None
    _, request = client.create_logout_request(
        destinations[0]["location"], provider.entity_id, name_id=name_id_from_string(name_id),
        session_indexes=[session_index] if session_index else None, sign=False)
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(request), destinations[0]["location"], sign=True,
                                sigalg=client.signing_algorithm)
    return dict(info["headers"])["Location"]


def read_logout_request(provider: IdentityProvider, saml_request: str, relay_state: str | None,
                        query: dict) -> tuple[str, list[str], str]:
    """Verify an IdP's LogoutRequest (redirect binding, signed): (NameID, session indexes, answer URL)."""
    if not query.get("Signature") or not query.get("SigAlg"):
        raise SsoError("The logout request could not be verified.", "unsigned SAML logout request")
    config = sp_config(provider)
    # pysaml2 verifies redirect-binding signatures of requests only when the (IdP-side) setting
    # want_authn_requests_signed is on; an SP config has no IdP section, so set it for this client.
    config._idp_want_authn_requests_signed = True
    client = Saml2Client(config)
    try:
        request = client.parse_logout_request(saml_request, BINDING_HTTP_REDIRECT, relay_state=relay_state,
                                              sigalg=query.get("SigAlg"), signature=query.get("Signature"))
    except Exception as exc:  # signature, issuer, XML: pysaml2 has no common base class
        log.warning("SAML logout request refused for provider %s: %s", provider.slug, type(exc).__name__)
        raise SsoError("The logout request could not be verified.", "SAML logout request refused") from exc
    if request is None or request.issuer.text != provider.entity_id:
        raise SsoError("The logout request could not be verified.", "SAML logout request from another issuer")
    message = request.message
    answer = client.create_logout_response(message, [BINDING_HTTP_REDIRECT])
    destination = client.metadata.single_logout_service(provider.entity_id, BINDING_HTTP_REDIRECT, "idpsso")
    if not destination:
        raise SsoError("The logout request could not be answered.", "the IdP has no HTTP-Redirect logout service")
    info = client.apply_binding(BINDING_HTTP_REDIRECT, str(answer), destination[0]["location"], relay_state or "",
                                response=True, sign=True, sigalg=client.signing_algorithm)
    session_indexes = [index.text for index in message.session_index or []]
    return str(message.name_id), session_indexes, dict(info["headers"])["Location"]


def issuer_of_logout_request(saml_request: str) -> str | None:
    """The Issuer named in a redirect-binding LogoutRequest (not yet verified: only to pick the provider)."""
    try:
        request = logout_request_from_string(decode_base64_and_inflate(saml_request))
    except Exception:  # bad base64, bad deflate, bad XML: not a logout request
        return None
    return request.issuer.text if request is not None and request.issuer is not None else None


def decode_posted_response(value: str) -> str:
    """The form field as pysaml2 wants it (base64 text); refuses what is not base64."""
    try:
        base64.b64decode(value, validate=True)
    except (ValueError, TypeError) as exc:
        raise SsoError("Your identity provider's answer could not be read.", "SAMLResponse is not base64") from exc
    return value
