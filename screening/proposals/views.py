"""Researcher intake: dashboard, the proposal form, submission, results, withdrawal.

Views are thin: parse the form, call a service, commit once.
"""

import re

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from forms.accounts import PlainActionForm
from forms.proposals import ProposalForm, apply_row_action, form_data_from_proposal
from screening.accounts.access import roles_required
from screening.core.engine import get_screener
from screening.core.errors import ValidationFailed
from screening.core.extensions import db
from screening.core.i18n import current_language
from screening.proposals import service as svc
from screening.proposals import workflow

bp = Blueprint("proposals", __name__, url_prefix="/proposals")

READERS = ("researcher", *svc.READER_ROLES)


@bp.get("/")
@roles_required("researcher")
def dashboard():
    return render_template("proposals/dashboard.html", proposals=svc.list_own(db.session, g.actor),
                           action_form=PlainActionForm())


@bp.route("/new", methods=["GET", "POST"])
@roles_required("researcher")
def new():
    return _edit(None)


@bp.route("/<int:pid>/edit", methods=["GET", "POST"])
@roles_required("researcher")
def edit(pid: int):
    proposal = svc.get_own(db.session, g.actor, pid, lock=request.method == "POST")
    if proposal.status not in workflow.EDITABLE:
        if request.method == "POST":
            # A resent "submit" of the form that already made a version lands on its result.
            version = svc.version_for_token(db.session, proposal, request.form.get("form_token", ""))
            if version is not None:
                return redirect(url_for(".version", pid=pid, number=version.number))
            abort(409)
        return redirect(url_for(".detail", pid=pid))
    return _edit(proposal)


def _edit(proposal):
    if request.method == "GET":
        data = {**form_data_from_proposal(proposal.data), "faculty": proposal.faculty or ""} if proposal else {}
        form = ProposalForm(data=data) if proposal else ProposalForm()
        return render_template("proposals/form.html", form=form, proposal=proposal)

    action = request.form.get("action", "save")
    if action.startswith(("add:", "remove:")):
        formdata, understood = apply_row_action(request.form, action)
        if not understood:
            abort(400)
        form = ProposalForm(formdata=formdata)  # CSRFProtect has already checked the post
        return render_template("proposals/form.html", form=form, proposal=proposal)
    if action not in ("save", "submit"):
        abort(400)

    form = ProposalForm()
    valid = form.validate_for_submit() if action == "submit" else form.validate()
    if not valid:
        return render_template("proposals/form.html", form=form, proposal=proposal), 400
    data = form.to_proposal()
    token = form.form_token.data or ""
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,64}", token):
        abort(400)
    try:
        if proposal is None:
            existing = svc.find_by_creation_token(db.session, g.actor, token)
            if existing is not None and existing.status not in workflow.EDITABLE:
                version = svc.version_for_token(db.session, existing, token)
                if version is not None:
                    return redirect(url_for(".version", pid=existing.id, number=version.number))
                return redirect(url_for(".detail", pid=existing.id))
        saved = svc.save_draft(db.session, g.actor, data, proposal=proposal, creation_token=token,
                               faculty=form.faculty.data or None)
        if action == "save":
            db.session.commit()
            return redirect(url_for(".edit", pid=saved.id, saved=1))
        version = svc.submit(db.session, g.actor, saved, token, get_screener(), language=current_language())
        db.session.commit()
    except ValidationFailed as exc:
        db.session.rollback()
        _attach_errors(form, exc.errors)
        return render_template("proposals/form.html", form=form, proposal=proposal), 400
    except IntegrityError:
        # A concurrent duplicate of the same form won the race: show what it made.
        db.session.rollback()
        found = svc.find_by_creation_token(db.session, g.actor, token) if proposal is None else proposal
        if found is None:
            raise
        version = svc.version_for_token(db.session, found, token)
        if version is None:
            return redirect(url_for(".edit", pid=found.id))
    return redirect(url_for(".version", pid=version.proposal_id, number=version.number))


_PATH_RE = re.compile(r"^([a-z_]+)(?:\[(\d+)\])?(?:\.([a-z_]+))?")
_EXPORT_FIELDS = {"dual_use_codes": "dual_use_codes", "military_end_use": "military_end_use",
                  "notes": "export_notes"}


def _attach_errors(form: ProposalForm, errors: dict[str, str]) -> None:
    """Show the rules engine's objection next to the field its JSON path names."""
    for path, reason in errors.items():
        field = None
        m = _PATH_RE.match(path)
        if m:
            top, index, sub = m.group(1), m.group(2), m.group(3)
            if top == "export_control" and sub in _EXPORT_FIELDS:
                field = form[_EXPORT_FIELDS[sub]]
            elif top in form._fields:
                field = form[top]
                if index is not None and hasattr(field, "entries") and int(index) < len(field.entries):
                    entry = field.entries[int(index)]
                    field = entry.form[sub] if sub and sub in entry.form._fields else None
        message = _("The screening engine rejected this: %(reason)s", reason=reason)
        if field is not None:
            field.errors = [*list(field.errors or []), message]
        else:
            form.section_errors["proposal"] = f"{path}: {message}"


@bp.get("/<int:pid>")
@roles_required(*READERS)
def detail(pid: int):
    proposal = svc.get_readable(db.session, g.actor, pid)
    versions = svc.versions(db.session, proposal)
    return render_template("proposals/detail.html", proposal=proposal, versions=versions,
                           is_owner=proposal.owner_id == g.user.id, action_form=PlainActionForm(),
                           can_withdraw=workflow.allowed(proposal.status, workflow.WITHDRAWN))


@bp.get("/<int:pid>/versions/<int:number>")
@roles_required(*READERS)
def version(pid: int, number: int):
    proposal = svc.get_readable(db.session, g.actor, pid)
    v = svc.get_version(db.session, proposal, number)
    flags = v.result_json.get("flags", [])
    grouped = {}
    for flag in flags:
        grouped.setdefault(flag.get("category", "other"), []).append(flag)
    return render_template("proposals/result.html", proposal=proposal, version=v, result=v.result_json,
                           grouped=grouped)


@bp.post("/<int:pid>/withdraw")
@roles_required("researcher")
def withdraw(pid: int):
    form = PlainActionForm()
    if not form.validate():
        abort(400)
    proposal = svc.get_own(db.session, g.actor, pid, lock=True)
    svc.withdraw(db.session, g.actor, proposal)
    db.session.commit()
    return redirect(url_for(".detail", pid=pid))
