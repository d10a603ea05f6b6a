import io
import stat

import pytest
from pyhanko.keys import load_cert_from_pemder
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from screening.documents import render_pdf
from screening.documents.samples import fast_track_context
from screening.documents.signing import create_demo_signing_key, sign_pdf


@pytest.fixture(scope="module")
def demo_key(tmp_path_factory):
    return create_demo_signing_key(tmp_path_factory.mktemp("keys"), "Hochschule Südtal")


@pytest.fixture(scope="module")
def letter():
    return render_pdf(
        "fast_track_letter.html", fast_track_context(), language="de", title="Freigabe", author="Hochschule Südtal"
    ).data


def test_demo_key_files(demo_key):
    key_path, cert_path = demo_key
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key_path.read_bytes()
    assert cert_path.read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")


def test_sign_and_validate(demo_key, letter):
    key_path, cert_path = demo_key
    signed = sign_pdf(letter, key_path, cert_path, reason="Prüfentscheidung", location="Südtal")
    assert signed.startswith(letter)  # incremental update: the PDF/A bytes are kept as they were
    reader = PdfFileReader(io.BytesIO(signed))
    (signature,) = reader.embedded_signatures
    context = ValidationContext(trust_roots=[load_cert_from_pemder(str(cert_path))])
    status = validate_pdf_signature(signature, context)
    assert status.intact
    assert status.valid
    assert status.trusted
    assert status.bottom_line
    assert signature.sig_object["/Reason"] == "Prüfentscheidung"


def test_tampered_signed_letter_is_not_intact(demo_key, letter):
    key_path, cert_path = demo_key
    signed = bytearray(sign_pdf(letter, key_path, cert_path, reason="r", location="l"))
    index = signed.find(b"/Producer")
    signed[index + 1 : index + 4] = b"Pro"[::-1]  # change a covered byte
    reader = PdfFileReader(io.BytesIO(bytes(signed)), strict=False)
    status = validate_pdf_signature(
        reader.embedded_signatures[0], ValidationContext(trust_roots=[load_cert_from_pemder(str(cert_path))])
    )
    assert not status.intact


def test_untrusted_certificate_is_not_trusted(tmp_path, demo_key, letter):
    key_path, cert_path = demo_key
    _, other_cert = create_demo_signing_key(tmp_path, "Someone Else")
    signed = sign_pdf(letter, key_path, cert_path, reason="r", location="l")
    reader = PdfFileReader(io.BytesIO(signed))
    status = validate_pdf_signature(
        reader.embedded_signatures[0], ValidationContext(trust_roots=[load_cert_from_pemder(str(other_cert))])
    )
    assert status.intact and not status.trusted
