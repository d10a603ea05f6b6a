"""Optional PAdES signatures for letters, for institutions that configure a key and certificate.

The signature is added as an incremental update: the rendered PDF/A bytes stay unchanged at the
start of the file and the signature dictionary, an invisible signature field and the CMS
signature are appended. Record the SHA-256 of the *signed* bytes (that is the stored document).

``create_demo_signing_key`` makes a self-signed certificate for demonstrations and tests only;
production keys come from the institution's CA.
"""

import os
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers

SIGNATURE_FIELD = "ScreeningSignature"


class SigningError(RuntimeError):
    """The key or certificate could not be used to sign."""

def sign_pdf(
    data: bytes,
    key_path: str | os.PathLike,
    cert_path: str | os.PathLike,
    *,
    reason: str,
    location: str,
    key_passphrase: bytes | None = None,
) -> bytes:
    """``data`` with a PAdES B-B signature by the key and certificate at the given PEM paths."""
    signer = signers.SimpleSigner.load(str(key_path), str(cert_path), key_passphrase=key_passphrase)
    if signer is None:
        raise SigningError(f"cannot load signing key {key_path} or certificate {cert_path}")
    writer = IncrementalPdfFileWriter(BytesIO(data), strict=False)
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        reason=reason,
        location=location,
        subfilter=fields.SigSeedSubFilter.PADES,
    )
    output = signers.sign_pdf(writer, metadata, signer=signer)
    return output.getvalue()


def create_demo_signing_key(directory: str | os.PathLike, common_name: str) -> tuple[Path, Path]:
    """Write ``signing-key.pem`` (P-256, unencrypted, mode 0600) and a self-signed ``signing-cert.pem``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, common_name),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=730))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path = directory / "signing-key.pem"
    cert_path = directory / "signing-cert.pem"
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key_bytes)
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path
