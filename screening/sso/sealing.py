"""OIDC client secrets encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256).

The key is derived with HKDF-SHA256 from ``SSO_SECRET_KEY`` (``SCREENING_SSO_SECRET_KEY``) when
set, else from ``SECRET_KEY``. Secrets sealed under ``SECRET_KEY`` still open after an
``SSO_SECRET_KEY`` is introduced, so an installation can move to a dedicated key without
re-entering its client secrets; new secrets are always sealed with the dedicated key.
"""

import base64

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app

from screening.sso.identity import SsoUnavailable

_HKDF_INFO = b"screening.sso.client-secret"
MIN_KEY_LENGTH = 32


def fernet_for(key_material: str) -> Fernet:
    """The Fernet key derived from a configured secret (also used by the migration that sealed old rows)."""
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(key_material.encode())
    return Fernet(base64.urlsafe_b64encode(derived))


def keys_of(config) -> MultiFernet:
    """The dedicated key first (it seals), then ``SECRET_KEY`` (it still opens what it sealed)."""
    dedicated, secret_key = config.get("SSO_SECRET_KEY"), config.get("SECRET_KEY")
    if dedicated is not None and len(str(dedicated)) < MIN_KEY_LENGTH:
        raise SsoUnavailable("Single sign-on is not available right now.",
                             f"SCREENING_SSO_SECRET_KEY is shorter than {MIN_KEY_LENGTH} characters")
    materials = [str(key) for key in (dedicated, secret_key) if key]
    if not materials:
        raise SsoUnavailable("Single sign-on is not available right now.", "no SECRET_KEY to seal client secrets")
    return MultiFernet([fernet_for(material) for material in materials])


def seal(plaintext: str) -> str:
    return keys_of(current_app.config).encrypt(plaintext.encode()).decode()


def unseal(token: str) -> str:
    try:
        return keys_of(current_app.config).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SsoUnavailable("Single sign-on is not available right now.",
                             "the OIDC client secret cannot be decrypted with the configured keys "
                             "(SECRET_KEY changed?); enter it again with 'screening sso add-oidc'") from exc
