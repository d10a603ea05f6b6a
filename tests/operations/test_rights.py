"""A person's rights (issue 15, item 6): export everything about them, erase them; CLI and /privacy.

Runs on SQLite and, in scripts/test.sh, on PostgreSQL.
"""

import io
import json
import zipfile

import pytest
import sqlalchemy as sa

from screening.accounts.models import Membership, User, UserSession
from screening.core import audit
from screening.core.commands import audit_verify
from screening.core.extensions import db
from screening.core.models import AuditEvent, OutboxMessage
from screening.documents.models import GeneratedDocument
from screening.notifications.models import SentMail
from screening.privacy import rights
from screening.privacy.commands import person_cli
from screening.proposals.models import Proposal
from screening.review.models import Decision
from tests.web.helpers import csrf_token_from

from .cases import decided_case, seat_chair


@pytest.fixture
def world(factory):
    """Institution A: a researcher with a draft and a decided case, the chair who decided it, an admin.
    Institution B: its admin and a researcher."""
    inst = factory.institution()
    other = factory.institution()
    researcher = factory.user(inst, "researcher", email="ada.example@example.org")
    chair = factory.user(inst, "committee_chair", email="charlie.chair@example.org")
    admin = factory.user(inst, "institution_admin")
    seat_chair(inst, chair)
    draft = factory.proposal(researcher, inst, title="Ada's unsent draft")
    decision = decided_case(factory, inst, researcher, chair, "Charlie Chair asks Ada Example a question.",
                            "Charlie Chair agrees.", title="Ada's robots")
    decided = db.session.get(Proposal, decision.proposal_id)
    letter = db.session.scalars(sa.select(GeneratedDocument).where(GeneratedDocument.object_type == "decision",
                                                                   GeneratedDocument.object_id == decision.id)).one()
    assert letter.sha256
    return {"inst": inst, "other": other, "researcher": researcher, "chair": chair, "admin": admin,
            "admin_b": factory.user(other, "institution_admin"), "stranger": factory.user(other, "researcher"),
            "draft": draft, "decided": decided, "decision": decision, "letter": letter}


def read_zip(data: bytes) -> tuple[dict, list[str]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return json.loads(archive.read("person.json")), archive.namelist()


# ---------------------------------------------------------------- access (export)


def test_export_holds_everything_about_the_person_and_their_letters(factory, world):
    w = world
    archive = rights.export_person(db.session, factory.actor(w["admin"], w["inst"]), w["researcher"])
    db.session.commit()
    record, names = read_zip(archive.data)
    assert record["account"][0]["email"] == "ada.example@example.org"
    assert "password_hash" not in record["account"][0]
    assert {m["role"] for m in record["memberships"]} == {"researcher"}
    assert {p["id"] for p in record["proposals"]} == {w["draft"].id, w["decided"].id}
    assert record["proposal_versions"] and record["sessions"] == []
    assert any(e["action"] == "proposal.created" for e in record["audit_events"])
    assert any(m["payload"]["event"] == "decision_issued" for m in record["notifications"])
    assert f"letters/decision_letter-{w['letter'].id}.pdf" in names
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "person.exported")).one()
    assert event.actor_id == w["admin"].id and event.object_id == str(w["researcher"].id)
    assert "ada" not in json.dumps(event.details).lower()


def test_export_of_the_chair_lists_the_decisions_they_issued(world):
    record, _names = read_zip(rights.export_person(db.session, None, world["chair"]).data)
    assert [d["id"] for d in record["decisions_issued"]] == [world["decision"].id]
    assert [c["body"] for c in record["comments"]] == ["Charlie Chair asks Ada Example a question."]
    assert record["committee_memberships"]


def test_the_command_writes_the_zip(app, world, tmp_path):
    out = tmp_path / "ada.zip"
    result = app.test_cli_runner().invoke(person_cli, ["export", "ada.example@example.org", "--out", str(out)])
    assert result.exit_code == 0, result.output
    record, _names = read_zip(out.read_bytes())
    assert record["person_id"] == world["researcher"].id


@pytest.mark.parametrize("args, reason", [
    (["export", "nobody@example.org", "--out", "{tmp}/x.zip"], "no such person"),
    (["export", "ada.example@example.org", "--out", "{tmp}/exists.zip"], "exists already"),
    (["export", "ada.example@example.org", "--out", "{tmp}/no/such/folder/x.zip"], "does not exist"),
    (["erase", "nobody@example.org"], "no such person"),
    (["erase", "ada\x00@example.org"], "no such person"),
])
def test_bad_command_input_is_refused_in_one_line(app, world, tmp_path, args, reason):
    (tmp_path / "exists.zip").write_bytes(b"keep")
    before = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
    result = app.test_cli_runner().invoke(person_cli, [a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    assert reason in result.output and len(result.output.strip().splitlines()) == 1
    assert (tmp_path / "exists.zip").read_bytes() == b"keep"
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == before


# ---------------------------------------------------------------- erasure


def everything_stored() -> str:
    """Every audit row, mail and mail-log entry, and every user row, as one text (read afresh)."""
    db.session.expire_all()
    rows = [*db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.seq)),
            *db.session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)),
            *db.session.scalars(sa.select(SentMail).order_by(SentMail.id)),
            *db.session.scalars(sa.select(User).order_by(User.id))]
    return json.dumps([row.model_dump(mode="json") for row in rows], ensure_ascii=False)


def test_erasing_the_chair_keeps_their_decisions_provable(app, client, factory, world):
    w = world
    chair_id, decision_id, code = w["chair"].id, w["decision"].id, w["letter"].verification_code
    factory.login(client, w["chair"], w["inst"])
    assert "charlie.chair@example.org" in everything_stored()
    counts = rights.erase_person(db.session, factory.actor(w["admin"], w["inst"]), w["chair"])
    db.session.commit()
    db.session.expire_all()
    assert counts["memberships"] == 1 and counts["committee_memberships"] == 1 and counts["audit_events"] >= 2

    chair = db.session.get(User, chair_id)
    assert chair.email == f"user-{chair_id}@pseudonymised.invalid" and not chair.is_active
    assert "charlie.chair@example.org" not in everything_stored()
    assert not db.session.scalars(sa.select(Membership).where(Membership.user_id == chair_id)).first()
    assert not db.session.scalars(sa.select(UserSession).where(UserSession.user_id == chair_id)).first()
    assert client.get("/review/").status_code in (302, 401)  # the session copied before erasure is void

    assert db.session.get(Decision, decision_id).decided_by_id == chair_id
    assert audit.verify(db.session).ok
    verified = app.test_cli_runner().invoke(audit_verify)
    assert verified.exit_code == 0, verified.output
    by_code = client.get(f"/verify/{code}")
    assert by_code.status_code == 200 and 'data-verified="yes"' in by_code.text
    event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "person.erased")).one()
    assert event.details["counts"] == counts and event.actor_id == w["admin"].id


def test_erasing_the_researcher_deletes_their_drafts_and_keeps_their_case(factory, world):
    draft_id, decided_id = world["draft"].id, world["decided"].id
    rights.erase_person(db.session, None, world["researcher"])
    db.session.commit()
    assert db.session.get(Proposal, draft_id) is None
    assert db.session.get(Proposal, decided_id).owner_id == world["researcher"].id
    assert audit.verify(db.session).ok
    assert "ada.example@example.org" not in everything_stored()


def test_dry_run_counts_and_changes_nothing(app, world):
    before = everything_stored()
    result = app.test_cli_runner().invoke(person_cli, ["erase", "charlie.chair@example.org", "--dry-run"])
    assert result.exit_code == 0 and result.output.startswith("would change: account 1"), result.output
    db.session.expire_all()
    assert everything_stored() == before


def test_the_command_erases_once(app, world):
    runner = app.test_cli_runner()
    first = runner.invoke(person_cli, ["erase", "charlie.chair@example.org"])
    assert first.exit_code == 0 and first.output.startswith("erased: account 1"), first.output
    again = runner.invoke(person_cli, ["erase", f"user-{world['chair'].id}@pseudonymised.invalid"])
    assert again.exit_code == 2 and "erased already" in again.output


def test_an_admin_cannot_erase_themselves(factory, world):
    from screening.core.errors import Conflict

    with pytest.raises(Conflict):
        rights.erase_person(db.session, factory.actor(world["admin"], world["inst"]), world["admin"])


# ---------------------------------------------------------------- tenant isolation


def test_an_admin_reaches_only_people_of_their_institution(factory, world):
    from screening.core.errors import Forbidden, NotFound

    admin_a = factory.actor(world["admin"], world["inst"])
    assert rights.find_person(db.session, admin_a, " ADA.example@example.org ").id == world["researcher"].id
    with pytest.raises(NotFound):
        rights.find_person(db.session, admin_a, world["stranger"].email)
    # Someone with a role in both institutions belongs to neither admin alone.
    db.session.add(Membership(user_id=world["stranger"].id, institution_id=world["inst"].id, role="researcher"))
    db.session.commit()
    with pytest.raises(NotFound):
        rights.find_person(db.session, admin_a, world["stranger"].email)
    with pytest.raises(Forbidden):
        rights.find_person(db.session, factory.actor(world["researcher"], world["inst"]), world["chair"].email)


# ---------------------------------------------------------------- the page


@pytest.fixture
def admin_client(client, factory, world):
    factory.login(client, world["admin"], world["inst"])
    return client


def test_the_page_shows_the_periods(admin_client):
    page = admin_client.get("/privacy/")
    assert page.status_code == 200 and "10y" in page.text and "6m" in page.text


def test_the_page_exports_a_zip(admin_client, world):
    answer = admin_client.post("/privacy/export", data={"export-email": "ada.example@example.org"})
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert answer.headers["Cache-Control"] == "no-store"
    assert read_zip(answer.data)[0]["person_id"] == world["researcher"].id


def test_another_institutions_person_is_not_found_and_nothing_is_written(admin_client, world):
    before = db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one()
    for url, data in (("/privacy/export", {"export-email": world["stranger"].email}),
                      ("/privacy/erase", {"erase-email": world["stranger"].email,
                                          "erase-confirm": world["stranger"].email, "erase-submit": "y"})):
        answer = admin_client.post(url, data=data)
        assert answer.status_code == 404 and "Nobody with this address" in answer.text
    db.session.expire_all()
    assert db.session.get(User, world["stranger"].id).email == world["stranger"].email
    assert db.session.execute(sa.select(sa.func.count()).select_from(AuditEvent)).scalar_one() == before


def test_preview_then_erase(admin_client, world):
    form = {"erase-email": "charlie.chair@example.org", "erase-confirm": "Charlie.Chair@example.org"}
    preview = admin_client.post("/privacy/erase", data={**form, "erase-preview": "y"})
    assert preview.status_code == 200 and 'data-preview="yes"' in preview.text
    db.session.expire_all()
    assert db.session.get(User, world["chair"].id).email == "charlie.chair@example.org"
    done = admin_client.post("/privacy/erase", data={**form, "erase-submit": "y"})
    assert done.status_code == 200 and 'data-erased="yes"' in done.text
    db.session.expire_all()
    assert db.session.get(User, world["chair"].id).email.endswith("@pseudonymised.invalid")
    assert audit.verify(db.session).ok


@pytest.mark.parametrize("data, status", [
    ({"erase-email": "charlie.chair@example.org", "erase-confirm": "ada.example@example.org",
      "erase-submit": "y"}, 400),
    ({"erase-email": "", "erase-confirm": "", "erase-submit": "y"}, 400),
    ({"erase-email": "a\u202eb@example.org", "erase-confirm": "a\u202eb@example.org", "erase-submit": "y"}, 400),
    ({"erase-email": "x" * 300 + "@example.org", "erase-confirm": "x", "erase-submit": "y"}, 400),
    ({"erase-email": "<script>alert(1)</script>", "erase-confirm": "<script>alert(1)</script>",
      "erase-submit": "y"}, 404),
])
def test_bad_erase_input_is_a_form_error_and_changes_nothing(admin_client, world, data, status):
    answer = admin_client.post("/privacy/erase", data=data)
    assert answer.status_code == status
    assert "<script>alert(1)</script>" not in answer.text
    db.session.expire_all()
    assert db.session.get(User, world["chair"].id).email == "charlie.chair@example.org"


def test_erasing_oneself_is_refused(admin_client, world):
    email = world["admin"].email
    answer = admin_client.post("/privacy/erase", data={"erase-email": email, "erase-confirm": email,
                                                       "erase-submit": "y"})
    assert answer.status_code == 409 and "your own account" in answer.text


def test_forms_need_a_csrf_token(app, admin_client, world):
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        for url, data in (("/privacy/export", {"export-email": "ada.example@example.org"}),
                          ("/privacy/erase", {"erase-email": "charlie.chair@example.org",
                                              "erase-confirm": "charlie.chair@example.org", "erase-submit": "y"})):
            assert admin_client.post(url, data=data).status_code == 400
        token = csrf_token_from(admin_client.get("/privacy/").text)
        answer = admin_client.post("/privacy/export", data={"export-email": "ada.example@example.org",
                                                            "export-csrf_token": token})
        assert answer.status_code == 200
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    db.session.expire_all()
    assert db.session.get(User, world["chair"].id).email == "charlie.chair@example.org"


def test_other_roles_get_403(client, factory, world):
    factory.login(client, world["researcher"], world["inst"])
    assert client.get("/privacy/").status_code == 403
    assert client.post("/privacy/export", data={"export-email": world["chair"].email}).status_code == 403
