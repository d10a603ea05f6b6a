"""Letters: download, retry of a failed letter, the admins' list, and public verification.

Download and retry load the document through the service, which answers 404 to everybody who
may not read it. ``/verify`` is public (CSRF-protected form, rate-limited per address) and shows
only the case reference, the kind of letter, its date, the decision and the institution.
"""

from flask import Blueprint, Response, abort, current_app, g, redirect, render_template, request, url_for

from forms.documents import RetryForm, VerifyForm
from screening.accounts.access import login_required, roles_required
from screening.core import outbox
from screening.core.extensions import db, limiter
from screening.core.security import safe_next
from screening.documents import access, commands, verification

bp = Blueprint("documents", __name__)
for _command in commands.ALL:  # screening documents ...
    bp.cli.add_command(_command)

VERIFY_LIMIT = (30, 300)  # attempts per address per window (seconds)


@bp.app_template_global("proposal_letters")
def proposal_letters(proposal_id: int) -> list[access.LetterStatus]:
    """For templates: the letters of a proposal the current user may read, with their state."""
    return access.letters_for_proposal(db.session, g.get("actor"), proposal_id)


@bp.get("/documents/<int:document_id>/download")
@login_required
def download(document_id: int):
    doc, data = access.download(db.session, g.actor, document_id)
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
    doc = access.get_readable(db.session, g.actor, document_id)  # 404 first, before the form
    if not form.validate_on_submit():
        abort(400)
    message = access.retry(db.session, g.actor, doc.id)
    db.session.commit()
    outbox.publish([message.id])  # after commit; if the broker is away the sweeper republishes
    return redirect(safe_next(request.form.get("next"), url_for("main.index")))


@bp.get("/documents/admin")
@roles_required("institution_admin")
def admin():
    return render_template("documents/admin.html", rows=access.unfinished(db.session, g.actor), form=RetryForm())


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
                result = verification.verify_bytes(db.session, data) if data else None
                checked = True
            elif form.sha256.data:
                result = verification.verify_hash(db.session, form.sha256.data)
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
    result = verification.verify_code(db.session, code)
    return render_template("documents/verify.html", form=VerifyForm(), result=result, checked=True,
                           by_code=True), (200 if result else 404)
