"""Decision and clearance letters, end to end in eager mode (issue 5; scorecard 7, 13, 14).

Decision -> outbox -> rendered, stored letter -> download (audited) -> /verify accepts it and
rejects a one-byte change. The stored PDF's text contains the reference, the decision, every
condition and the verification code; its recorded SHA-256 is the file's.
"""

import hashlib
import io
import re

import pytest
from flask import g
from pypdf import PdfReader
from sqlmodel import select

from screening.core import outbox
from screening.core.commands import outbox_status
from screening.core.extensions import db
from screening.core.models import AuditEvent, OutboxMessage
from screening.documents import access, config, letters, verification
from screening.documents.models import DocumentBlob, GeneratedDocument
from screening.documents.storage import FileDocumentStore
from screening.review import cases, decisions, deliberation, routing
from screening.review.models import CommitteeMember

from .helpers import csrf_token_from

HARBIN = [{"name": "Harbin Institute of Technology", "country": "CN", "type": "university"}]
CONDITIONS = ["No transfer of controlled firmware <b>to</b> partners.", "Report changes of partners {{7*7}}."]


@pytest.fixture
def case_world(factory):
    inst = factory.institution()
    owner = factory.user(inst, "researcher")
    chair = factory.user(inst, "committee_chair")
    member = factory.user(inst, "committee_member")
    committee = routing.ensure_setup(db.session, None, inst.id)
    db.session.add(CommitteeMember(committee_id=committee.id, user_id=chair.id, role="chair"))
    db.session.add(CommitteeMember(committee_id=committee.id, user_id=member.id, role="member"))
    db.session.commit()
    proposal = factory.proposal(owner, inst, submit=True, partners=HARBIN)
    assert proposal.status == "in_review"
    return {"inst": inst, "owner": owner, "chair": chair, "member": member, "proposal": proposal,
            "case": routing.case_for_proposal(db.session, proposal)}


def _decide(factory, w, outcome="approved_with_conditions", conditions=CONDITIONS,
            reasoning="Fine <script>x</script>."):
    access = cases.get_case(db.session, factory.actor(w["chair"], w["inst"]), w["case"].id)
    decision = decisions.decide(db.session, access, access.case.version, outcome, reasoning, [],
                                conditions if outcome == "approved_with_conditions" else [])
    db.session.commit()  # the decision and the outbox row commit together; eager: rendered now
    return decision


def _doc(object_type: str, object_id: int) -> GeneratedDocument:
    db.session.expire_all()
    return db.session.exec(select(GeneratedDocument).where(GeneratedDocument.object_type == object_type,
                                                           GeneratedDocument.object_id == object_id)).one()


def _text(data: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_decision_letter_is_stored_downloadable_and_verifiable(app, client, factory, case_world, csrf_enabled):
    w = case_world
    decision = _decide(factory, w)
    doc = _doc("decision", decision.id)
    assert doc.sha256 and doc.size and doc.kind == "decision_letter"
    message = db.session.get(OutboxMessage, doc.outbox_message_id)
    assert message.status == "done" and message.task == letters.DECISION_TASK

    # Stored file: its hash is the recorded one.
    path = FileDocumentStore(app.config["DOCUMENT_STORE_DIR"]).path_for(doc.sha256)
    stored = path.read_bytes()
    assert hashlib.sha256(stored).hexdigest() == doc.sha256 and len(stored) == doc.size

    # Content: reference, decision, every condition (escaped text, not markup), the code.
    text = re.sub(r"\s+", " ", _text(stored))
    assert letters.reference_for(w["proposal"]) in text
    assert "Approved with conditions" in text
    for condition in CONDITIONS:
        assert re.sub(r"\s+", " ", condition) in text
    assert letters.format_code(doc.verification_code) in text
    assert "<script>x</script>" in text

    # Download by the owner: the same bytes, audited.
    factory.login(client, w["owner"])
    r = client.get(f"/documents/{doc.id}/download")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.data == stored
    assert db.session.exec(select(AuditEvent).where(AuditEvent.action == "document.downloaded",
                                                    AuditEvent.object_id == str(doc.id))).first()
    # The researcher's page and the case page show it as ready.
    assert f"/documents/{doc.id}/download" in client.get(f"/proposals/{w['proposal'].id}").get_data(as_text=True)
    chair_client = app.test_client()
    factory.login(chair_client, w["chair"])
    assert f"/documents/{doc.id}/download" in chair_client.get(f"/review/cases/{w['case'].id}").get_data(as_text=True)

    # Public verification: the file, its typed hash, the code; a one-byte change fails.
    anon = app.test_client()
    g.pop("csrf_token", None)  # requests share the test's app context: forget the last client's token
    page = anon.get("/verify").get_data(as_text=True)
    token = csrf_token_from(page)
    r = anon.post("/verify", data={"csrf_token": token, "document": (io.BytesIO(stored), "letter.pdf")},
                  content_type="multipart/form-data")
    body = r.get_data(as_text=True)
    assert r.status_code == 200 and 'data-verified="yes"' in body, body
    assert letters.reference_for(w["proposal"]) in body and w["owner"].name not in body
    changed = bytearray(stored)
    changed[len(changed) // 2] ^= 0x01
    r = anon.post("/verify", data={"csrf_token": token, "document": (io.BytesIO(bytes(changed)), "letter.pdf")},
                  content_type="multipart/form-data")
    assert 'data-verified="no"' in r.get_data(as_text=True)
    r = anon.post("/verify", data={"csrf_token": token, "sha256": doc.sha256.upper()})
    assert 'data-verified="yes"' in r.get_data(as_text=True)
    r = anon.get(f"/verify/{letters.format_code(doc.verification_code).lower()}")
    assert r.status_code == 200 and "Approved with conditions" in r.get_data(as_text=True)
    assert anon.get("/verify/AAAAAAAAAAAAAAAA").status_code == 404
    # Without CSRF the public form refuses.
    r = anon.post("/verify", data={"sha256": doc.sha256})
    assert r.status_code == 400 and 'data-verified' not in r.get_data(as_text=True)


def test_researchers_language_and_a_correction_supersedes_the_first_letter(app, factory, case_world):
    w = case_world
    w["owner"].language = "de"
    db.session.add(w["owner"])
    db.session.commit()
    first = _decide(factory, w, outcome="approved", conditions=[])
    second = _decide(factory, w, outcome="declined", reasoning="Korrektur.")
    old, new = _doc("decision", first.id), _doc("decision", second.id)
    assert old.superseded and not new.superseded and new.language == "de"
    text = _text(FileDocumentStore(app.config["DOCUMENT_STORE_DIR"]).get(new.sha256))
    assert "Abgelehnt" in text
    # The fast-track letter of the proposal (none here) and the old letter stay verifiable, marked.
    assert verification.verify_hash(db.session, old.sha256).superseded


def test_fast_tracked_proposal_gets_a_clearance_letter(factory):
    inst = factory.institution()
    owner = factory.user(inst)
    proposal = factory.proposal(owner, inst, submit=True)
    assert proposal.status == "fast_tracked"
    doc = _doc("proposal", proposal.id)
    assert doc.kind == "fast_track_letter" and doc.sha256
    verified = verification.verify_code(db.session, doc.verification_code)
    assert verified.decision is None and verified.reference == letters.reference_for(proposal)


def test_running_the_message_again_creates_no_second_document(factory, case_world):
    decision = _decide(factory, case_world)
    doc = _doc("decision", decision.id)
    message = db.session.get(OutboxMessage, doc.outbox_message_id)
    message.status = "pending"  # as if the worker died after the commit but before the ack
    db.session.add(message)
    db.session.commit()
    assert outbox.run_outbox_message.apply(args=[message.id]).get() == "done"
    docs = db.session.exec(select(GeneratedDocument).where(GeneratedDocument.object_id == decision.id,
                                                           GeneratedDocument.object_type == "decision")).all()
    assert len(docs) == 1 and docs[0].sha256 == doc.sha256
    # Asking again for the same decision (a resent form) also makes no second one.
    again = letters.request_decision_letter(db.session, decision)
    assert again.id == message.id


def test_database_store(app, factory, case_world, monkeypatch):
    monkeypatch.setitem(app.config, "DOCUMENT_STORE", "database")
    decision = _decide(factory, case_world)
    doc = _doc("decision", decision.id)
    assert doc.store == "database" and doc.storage_key == f"db:{doc.sha256}"
    blob = db.session.get(DocumentBlob, doc.sha256)
    assert hashlib.sha256(blob.data).hexdigest() == doc.sha256
    assert access.read_bytes(db.session, doc) == blob.data
    store = config.document_store(db.session, "database")
    assert store.exists(doc.sha256) and not store.exists("0" * 64) and not store.exists("../etc")
    assert store.put(blob.data).sha256 == doc.sha256  # same bytes again: nothing new


def test_signed_letter_when_the_institution_has_a_key(app, factory, case_world, tmp_path, monkeypatch):
    from pyhanko.pdf_utils.reader import PdfFileReader

    monkeypatch.setitem(app.config, "SIGNING_KEY_DIR", str(tmp_path))
    made = config.create_demo_signing_keys(db.session)
    assert tmp_path / case_world["inst"].slug in made
    decision = _decide(factory, case_world)
    doc = _doc("decision", decision.id)
    assert doc.signed
    data = access.read_bytes(db.session, doc)
    assert PdfFileReader(io.BytesIO(data)).embedded_signatures


def test_huge_text_fails_permanently_and_is_shown_for_retry(app, client, factory, case_world, monkeypatch):
    w = case_world
    # 20 conditions of 12,000 characters: over the letter's total text budget (scorecard 7).
    decision = _decide(factory, w, conditions=["x" * 1999] * 1 + ["Long condition " * 130] * 120)
    doc = _doc("decision", decision.id)
    message = db.session.get(OutboxMessage, doc.outbox_message_id)
    assert doc.sha256 is None and message.status == "failed" and "ContextTooLarge" in message.last_error
    result = app.test_cli_runner().invoke(outbox_status, catch_exceptions=False)
    assert f"failed #{message.id} {letters.DECISION_TASK}" in result.output
    # Visible: researcher sees "failed", the chair gets a retry button, admins list it.
    factory.login(client, w["owner"])
    page = client.get(f"/proposals/{w['proposal'].id}").get_data(as_text=True)
    assert 'data-letter-state="failed"' in page and f"/documents/{doc.id}/retry" not in page
    assert client.post(f"/documents/{doc.id}/retry").status_code == 403
    chair = app.test_client()
    factory.login(chair, w["chair"])
    assert f"/documents/{doc.id}/retry" in chair.get(f"/review/cases/{w['case'].id}").get_data(as_text=True)
    admin_user = factory.user(w["inst"], "institution_admin")
    admin = app.test_client()
    factory.login(admin, admin_user)
    assert f"/documents/{doc.id}/retry" in admin.get("/documents/admin").get_data(as_text=True)
    # The cause fixed (shorter conditions), a retry renders it.
    decision.conditions = [{"template_id": None, "key": None, "text_en": "Short.", "text_de": "Kurz."}]
    db.session.add(decision)
    db.session.commit()
    r = chair.post(f"/documents/{doc.id}/retry", data={"next": f"/review/cases/{w['case'].id}"})
    assert r.status_code == 302
    doc = _doc("decision", decision.id)
    assert doc.sha256 and db.session.get(OutboxMessage, doc.outbox_message_id).status == "done"
    assert db.session.exec(select(AuditEvent).where(AuditEvent.action == "document.retried")).first()


def test_injected_failures_are_retried(app, factory, case_world, monkeypatch):
    monkeypatch.setitem(app.config, "LETTERS_FAULT_INJECTION", True)
    monkeypatch.setitem(app.config, "LETTERS_TEST_FAILURES", 2)
    decision = _decide(factory, case_world)
    doc = _doc("decision", decision.id)
    message = db.session.get(OutboxMessage, doc.outbox_message_id)
    assert doc.sha256 and message.status == "done" and message.attempts == 2
    assert "injected failure" in message.last_error


def test_pending_letter_is_shown_as_pending(app, client, factory, case_world, monkeypatch):
    monkeypatch.setattr(outbox.run_outbox_message, "apply_async",
                        lambda *a, **k: (_ for _ in ()).throw(ConnectionError("redis is away")))
    decision = _decide(factory, case_world)  # still commits: the outbox keeps the request
    monkeypatch.undo()
    doc = _doc("decision", decision.id)
    assert doc.sha256 is None
    factory.login(client, case_world["owner"])
    page = client.get(f"/proposals/{case_world['proposal'].id}").get_data(as_text=True)
    assert 'data-letter-state="pending"' in page
    assert client.get(f"/documents/{doc.id}/download").status_code == 409


def test_verification_codes_are_random_and_normalised():
    codes = {letters.new_verification_code() for _ in range(200)}
    assert len(codes) == 200 and all(len(c) == 16 for c in codes)
    code = next(iter(codes))
    assert letters.normalise_code(letters.format_code(code).lower()) == code
    assert letters.normalise_code("../../etc/passwd") is None
    assert letters.normalise_code("x" * 1000) is None


def test_other_people_get_404(app, factory, case_world):
    decision = _decide(factory, case_world)
    doc = _doc("decision", decision.id)
    other_inst = factory.institution()
    for user, inst in ((factory.user(case_world["inst"], "researcher"), case_world["inst"]),
                       (factory.user(case_world["inst"], "external_advisor"), case_world["inst"]),
                       (factory.user(other_inst, "institution_admin"), other_inst)):
        c = app.test_client()
        factory.login(c, user, inst)
        assert c.get(f"/documents/{doc.id}/download").status_code == 404
    # A recused committee member loses access.
    access = cases.get_case(db.session, factory.actor(case_world["member"], case_world["inst"]), case_world["case"].id)
    deliberation.declare_conflict(db.session, access, "My former student leads the partner group.")
    db.session.commit()
    c = app.test_client()
    factory.login(c, case_world["member"])
    assert c.get(f"/documents/{doc.id}/download").status_code == 404


def test_demo_signing_key_command_and_missing_letters(app, factory, tmp_path, monkeypatch):
    from screening.documents.commands import demo_signing_key_command, request_missing_command, verify_command

    monkeypatch.setitem(app.config, "SIGNING_KEY_DIR", str(tmp_path / "signing"))
    inst = factory.institution()
    runner = app.test_cli_runner()
    result = runner.invoke(demo_signing_key_command, ["--institution", inst.slug], catch_exceptions=False)
    assert "created 1 demo signing key" in result.output
    assert (tmp_path / "signing" / inst.slug / "signing-key.pem").stat().st_mode & 0o077 == 0
    assert runner.invoke(demo_signing_key_command, ["--institution", "nope"]).exit_code != 0
    owner = factory.user(inst)
    proposal = factory.proposal(owner, inst, submit=True)
    doc = _doc("proposal", proposal.id)
    assert doc.signed
    # A fast-tracked proposal whose letter row is missing (older data) gets one requested.
    db.session.delete(doc)
    db.session.commit()
    assert "requested 1 letter" in runner.invoke(request_missing_command, catch_exceptions=False).output
    again = _doc("proposal", proposal.id)
    assert again.sha256
    path = tmp_path / "letter.pdf"
    path.write_bytes(access.read_bytes(db.session, again))
    assert "authentic: fast_track_letter" in runner.invoke(verify_command, [str(path)]).output
    path.write_bytes(path.read_bytes() + b"\n")
    assert runner.invoke(verify_command, [str(path)]).exit_code == 1


def test_verification_is_rate_limited_and_size_bounded(app, client, monkeypatch):
    monkeypatch.setitem(app.config, "VERIFY_LIMIT", (2, 60))
    for _ in range(2):
        assert client.post("/verify", data={"sha256": "a" * 64}).status_code == 200
    assert client.post("/verify", data={"sha256": "a" * 64}).status_code == 429
    assert client.get("/verify/AAAA-AAAA-AAAA-AAAA").status_code == 429
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 100_000)  # small: the test client buffers in memory
    big = io.BytesIO(b"%PDF" + b"0" * 200_000)
    r = client.post("/verify", data={"document": (big, "big.pdf")}, content_type="multipart/form-data")
    assert r.status_code == 413
    assert client.post("/verify", data={"sha256": "not-hex"}).status_code in (400, 429)


def test_verification_page_in_german(client):
    html = client.get("/verify", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert "Schreiben prüfen" in html and "oder sein SHA-256-Wert" in html
