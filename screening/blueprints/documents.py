"""Letters: download, retry of a failed letter, the admins' list, and public verification.

Download and retry load the document through the service, which answers 404 to everybody who
may not read it. ``/verify`` is public (CSRF-protected form, rate-limited per address) and shows
only the case reference, the kind of letter, its date, the decision and the institution.
"""

import click
from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for
from sqlmodel import select

from forms.documents import RetryForm, VerifyForm
from screening.accounts.access import login_required, roles_required
from screening.core import outbox
from screening.core.extensions import db, limiter
from screening.core.security import safe_next
from screening.documents import service as svc

bp = Blueprint("documents", __name__)

VERIFY_LIMIT = (30, 300)  # attempts per address per window (seconds)


@bp.app_template_global("proposal_letters")
def proposal_letters(proposal_id: int) -> list[svc.LetterStatus]:
    """For templates: the letters of a proposal the current user may read, with their state."""
    return svc.letters_for_proposal(db.session, g.get("actor"), proposal_id)


@bp.get("/documents/<int:document_id>/download")
@login_required
def download(document_id: int):
    doc, data = svc.download(db.session, g.actor, document_id)
    db.session.commit()  # the audit row
    name = f"{doc.kind.replace('_', '-')}-{doc.id}.pdf"
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
    })


@bp.post("/documents/<int:document_id>/retry")
@login_required
def retry(document_id: int):
    form = RetryForm()
    doc = svc.get_readable(db.session, g.actor, document_id)  # 404 first, before the form
    if not form.validate_on_submit():
        abort(400)
    message = svc.retry(db.session, g.actor, doc.id)
    db.session.commit()
    outbox.publish([message.id])  # after commit; if the broker is away the sweeper republishes
    return redirect(safe_next(request.form.get("next"), url_for("main.index")))


@bp.get("/documents/admin")
@roles_required("institution_admin")
def admin():
    return render_template("documents/admin.html", rows=svc.unfinished(db.session, g.actor), form=RetryForm())


def _limited() -> bool:
    limit = tuple(current_app.config.get("VERIFY_LIMIT") or VERIFY_LIMIT)
    return limiter.exceeded(f"verify:addr:{request.remote_addr or '-'}", limit)


@bp.route("/verify", methods=["GET", "POST"])
def verify():
    form = VerifyForm()
    result, checked, status = None, False, 200
    if request.method == "POST":
        if _limited():
            return render_template("documents/verify.html", form=form, limited=True), 429
        if form.validate_on_submit():
            upload = form.document.data
            if upload is not None and getattr(upload, "filename", ""):
                data = upload.read(current_app.config["MAX_CONTENT_LENGTH"] + 1)
                result = svc.verify_bytes(db.session, data) if data else None
                checked = True
            elif form.sha256.data:
                result = svc.verify_hash(db.session, form.sha256.data)
                checked = True
            else:
                form.sha256.errors = [*form.sha256.errors, "—"]
                status = 400
        else:
            status = 400
    return render_template("documents/verify.html", form=form, result=result, checked=checked), status


@bp.get("/verify/<code>")
def verify_code(code: str):
    if _limited():
        return render_template("documents/verify.html", form=VerifyForm(), limited=True), 429
    result = svc.verify_code(db.session, code)
    return render_template("documents/verify.html", form=VerifyForm(), result=result, checked=True,
                           by_code=True), (200 if result else 404)


# ---------------------------------------------------------------- commands: screening documents ...


@bp.cli.command("demo-signing-key")
@click.option("--institution", "slugs", multiple=True, help="Slug (repeatable); default: every institution.")
def demo_signing_key_command(slugs):
    """Create self-signed demo signing keys (instance/signing/<slug>/) for institutions without one."""
    from screening.accounts.models import Institution

    rows = db.session.exec(select(Institution).order_by(Institution.id)).all()
    chosen = [(i.slug, i.name) for i in rows if not slugs or i.slug in slugs]
    unknown = set(slugs) - {slug for slug, _name in chosen}
    if unknown:
        raise click.UsageError(f"unknown institution(s): {', '.join(sorted(unknown))}")
    made = svc.create_demo_signing_keys(db.session, chosen)
    click.echo(f"created {len(made)} demo signing key(s)" + "".join(f"\n  {p}" for p in made))
    click.echo("letters rendered from now on are signed (self-signed: for demonstrations only)")


@bp.cli.command("request-missing")
def request_missing_command():
    """Request letters for current decisions and fast-tracked proposals that have none."""
    ids = svc.request_missing_letters(db.session)
    db.session.commit()
    click.echo(f"requested {len(ids)} letter(s)")


@bp.cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def verify_command(path):
    """Check a PDF file against the letters issued here (exit 1 if it is not one)."""
    from pathlib import Path

    result = svc.verify_bytes(db.session, Path(path).read_bytes())
    if result is None:
        click.echo("NOT a letter issued by this installation (or it was changed)")
        raise SystemExit(1)
    click.echo(f"authentic: {result.kind} {result.reference} of {result.issued_on.isoformat()} "
               f"({result.decision or 'cleared'}){' - superseded' if result.superseded else ''}")


@bp.cli.command("failed")
def failed_command():
    """List letters whose rendering failed for good (retry them on the admin page or the case page)."""
    from screening.core.models import OutboxMessage
    from screening.document_models import GeneratedDocument

    rows = db.session.exec(select(GeneratedDocument, OutboxMessage)
                           .join(OutboxMessage, OutboxMessage.id == GeneratedDocument.outbox_message_id)
                           .where(OutboxMessage.status == "failed").order_by(GeneratedDocument.id)).all()
    for doc, message in rows:
        click.echo(f"document #{doc.id} {doc.kind} proposal {doc.proposal_id} institution {doc.institution_id}: "
                   f"{message.last_error}")
    click.echo(f"{len(rows)} failed letter(s)")
