"""Committee review pages: queue, spot checks, the case and advisors (the set-up is under /admin).

Views are thin: load the case through the service (which decides 404/403 before any form is
looked at), validate the form, call a service, commit once.
"""

from flask import Blueprint, abort, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from forms.accounts import SetPasswordForm
from forms.proposals import select_choices
from forms.review import (
    AssignForm,
    CommentForm,
    DecisionForm,
    DispositionForm,
    InformationRequestForm,
    InviteAdvisorForm,
    OpinionForm,
    ReasonForm,
    RevokeAdvisorForm,
    VoteForm,
)
from screening.accounts.access import roles_required
from screening.core.countries import ISO_CODES
from screening.core.errors import ValidationFailed
from screening.core.extensions import db
from screening.core.i18n import current_language
from screening.proposals import workflow
from screening.review import advisors, case_page, cases, commands, decisions, deliberation, queues

bp = Blueprint("review", __name__, url_prefix="/review")
bp.cli.add_command(commands.notify_overdue_command)  # screening review notify-overdue

MEMBERS = cases.COMMITTEE_ROLES
CHAIR = "committee_chair"


def _case(case_id: int) -> cases.CaseAccess:
    return cases.get_case(db.session, g.actor, case_id)


def _back(access: cases.CaseAccess, anchor: str = ""):
    return redirect(url_for(".case", case_id=access.case.id) + (f"#{anchor}" if anchor else ""))


def _invalid(form=None):
    errors = "; ".join(f"{name}: {', '.join(map(str, errs))}" for name, errs in (form.errors if form else {}).items())
    abort(400, description=_("The form is incomplete or invalid: %(errors)s", errors=errors) if errors else None)


def _commit_or_400(fn, *args, **kwargs):
    try:
        result = fn(*args, **kwargs)
    except ValidationFailed as exc:
        db.session.rollback()
        abort(400, description=_("The form is incomplete or invalid: %(errors)s", errors=str(exc)))
    db.session.commit()
    return result


# ---------------------------------------------------------------- queue and spot checks


def _queue_filters() -> dict:
    args = request.args
    filters: dict = {}
    if args.get("status") in workflow.STATES:
        filters["status"] = args["status"]
    if args.get("tier") in queues.TIER_ORDER:
        filters["tier"] = args["tier"]
    if (category := args.get("category", "")) and category.isidentifier() and len(category) < 40:
        filters["category"] = category
    if args.get("country") in ISO_CODES:
        filters["country"] = args["country"]
    if (age := args.get("min_age", "")).isdigit() and len(age) < 5:
        filters["min_age"] = int(age)
    assignee = args.get("assignee", "")
    if assignee in ("me", "none"):
        filters["assignee"] = assignee
    elif assignee.isdigit() and len(assignee) < 10:
        filters["assignee"] = int(assignee)
    if args.get("sort") in queues.QUEUE_SORTS:
        filters["sort"] = args["sort"]
    return filters


@bp.get("/")
@roles_required(*MEMBERS)
def queue():
    filters = _queue_filters()
    rows = queues.queue(db.session, g.actor, filters)
    return render_template("review/queue.html", rows=rows, filters=filters, sorts=queues.QUEUE_SORTS,
                           states=workflow.STATES)


@bp.get("/fast-tracked")
@roles_required(*MEMBERS)
def fast_tracked():
    return render_template("review/fast_tracked.html", rows=queues.fast_tracked(db.session, g.actor),
                           form=ReasonForm())


# ---------------------------------------------------------------- the case


def _decision_form(access: cases.CaseAccess, formdata=None) -> DecisionForm:
    form = DecisionForm(formdata=formdata) if formdata is not None else DecisionForm()
    lang = current_language()
    form.conditions.choices = select_choices((t.id, t.text_de if lang == "de" else t.text_en)
                                       for t in decisions.condition_templates(db.session, access.case.institution_id))
    if formdata is None:
        form.case_version.data = str(access.case.version)
    return form


@bp.get("/cases/<int:case_id>")
@roles_required(*MEMBERS)
def case(case_id: int):
    access = _case(case_id)
    page = case_page.case_page(db.session, access)
    assign = AssignForm()
    assign.rapporteur.choices = select_choices((str(u.id), u.name) for u, _role in page["members"])
    return render_template(
        "review/case.html", **page, disposition_form=DispositionForm(), comment_form=CommentForm(),
        info_form=InformationRequestForm(), reason_form=ReasonForm(), assign_form=assign, vote_form=VoteForm(),
        decision_form=_decision_form(access), invite_form=InviteAdvisorForm(), revoke_form=RevokeAdvisorForm(),
        can_reopen=access.proposal.status in (workflow.FAST_TRACKED, workflow.DECIDED),
        under_review=access.proposal.status in workflow.UNDER_REVIEW,
    )


@bp.get("/cases/<int:case_id>/diff")
@roles_required(*MEMBERS)
def diff(case_id: int):
    access = _case(case_id)
    a, b = request.args.get("a", ""), request.args.get("b", "")
    result = case_page.case_diff(db.session, access, int(a) if a.isdigit() and len(a) < 6 else None,
                           int(b) if b.isdigit() and len(b) < 6 else None)
    return render_template("review/diff.html", access=access, diff=result)


@bp.post("/cases/<int:case_id>/assign")
@roles_required(CHAIR)
def assign(case_id: int):
    access = _case(case_id)
    form = AssignForm()
    members = cases.committee_members(db.session, access.case.committee_id)
    form.rapporteur.choices = select_choices((str(u.id), u.name) for u, _r in members)
    if not form.validate():
        _invalid(form)
    _commit_or_400(deliberation.assign_rapporteur, db.session, access, int(form.rapporteur.data))
    return _back(access)


@bp.post("/cases/<int:case_id>/dispositions")
@roles_required(*MEMBERS)
def disposition(case_id: int):
    access = _case(case_id)
    form = DispositionForm()
    if not form.validate():
        _invalid(form)
    _commit_or_400(deliberation.record_disposition, db.session, access, form.flag.data, form.disposition.data,
                   form.reason.data)
    return _back(access, f"flag-{form.flag.data}")


@bp.post("/cases/<int:case_id>/comments")
@roles_required(*MEMBERS)
def comment(case_id: int):
    access = _case(case_id)
    form = CommentForm()
    if not form.validate():
        _invalid(form)
    _commit_or_400(deliberation.add_comment, db.session, access, form.kind.data, form.body.data)
    return _back(access, "comments")


@bp.post("/cases/<int:case_id>/information-request")
@roles_required(*MEMBERS)
def request_information(case_id: int):
    access = _case(case_id)
    form = InformationRequestForm()
    if not form.validate():
        _invalid(form)
    _commit_or_400(deliberation.request_information, db.session, access, form.questions.data)
    return _back(access)


@bp.post("/cases/<int:case_id>/reopen")
@roles_required(*MEMBERS)
def reopen(case_id: int):
    access = _case(case_id)
    form = ReasonForm()
    if not form.validate():
        _invalid(form)
    _commit_or_400(deliberation.reopen, db.session, access, form.reason.data)
    return _back(access)


@bp.post("/cases/<int:case_id>/conflict")
@roles_required(*MEMBERS)
def conflict(case_id: int):
    access = _case(case_id)
    form = ReasonForm()
    if not form.validate():
        _invalid(form)
    _commit_or_400(deliberation.declare_conflict, db.session, access, form.reason.data)
    return _back(access)


@bp.post("/cases/<int:case_id>/votes")
@roles_required(*MEMBERS)
def vote(case_id: int):
    access = _case(case_id)
    form = VoteForm()
    if not form.validate():
        _invalid(form)
    _commit_or_400(deliberation.cast_vote, db.session, access, form.recommendation.data, form.text.data)
    return _back(access, "votes")


@bp.post("/cases/<int:case_id>/decision")
@roles_required(CHAIR)
def decide(case_id: int):
    access = _case(case_id)
    form = _decision_form(access, request.form)
    if not form.validate():
        _invalid(form)
    _commit_or_400(decisions.decide, db.session, access, int(form.case_version.data), form.outcome.data,
                   form.reasoning.data, list(form.conditions.data or []), form.free_list())
    return _back(access, "decision")


@bp.post("/cases/<int:case_id>/advisors")
@roles_required(CHAIR)
def invite_advisor(case_id: int):
    access = _case(case_id)
    form = InviteAdvisorForm()
    if not form.validate():
        _invalid(form)
    _commit_or_400(advisors.invite_advisor, db.session, access, form.email.data, form.name.data or form.email.data,
                   form.expires_at())
    return _back(access, "advisors")


@bp.post("/cases/<int:case_id>/advisors/revoke")
@roles_required(CHAIR)
def revoke_advisor(case_id: int):
    access = _case(case_id)
    form = RevokeAdvisorForm()
    if not form.validate():
        _invalid(form)
    _commit_or_400(advisors.revoke_advisor, db.session, access, form.invitation.data)
    return _back(access, "advisors")


# ---------------------------------------------------------------- external advisors


@bp.get("/advisor/")
@roles_required("external_advisor")
def advisor_home():
    return render_template("review/advisor_home.html", rows=advisors.advisor_cases(db.session, g.actor))


@bp.get("/advisor/cases/<int:case_id>")
@roles_required("external_advisor")
def advisor_case(case_id: int):
    access = advisors.advisor_case(db.session, g.actor, case_id)
    return render_template("review/advisor_case.html", access=access, form=OpinionForm(),
                           flags=cases.flags_of(access.version) if access.version else [])


@bp.post("/advisor/cases/<int:case_id>/opinion")
@roles_required("external_advisor")
def advisor_opinion(case_id: int):
    access = advisors.advisor_case(db.session, g.actor, case_id)
    form = OpinionForm()
    if not form.validate():
        _invalid(form)
    _commit_or_400(advisors.add_opinion, db.session, g.actor, access, form.body.data)
    return redirect(url_for(".advisor_case", case_id=case_id))


@bp.route("/advisor/welcome/<token>", methods=["GET", "POST"])
def advisor_welcome(token: str):
    """The one-time link of a new advisor account: choose a password, then log in."""
    if advisors.invitation_for_token(db.session, token) is None:
        abort(404)
    form = SetPasswordForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("review/advisor_welcome.html", form=form), 400
        _commit_or_400(advisors.accept_invitation, db.session, token, form.new_password.data)
        return redirect(url_for("auth.login"))
    return render_template("review/advisor_welcome.html", form=form)


# The institution's set-up pages moved to the administration pages (/admin); old links and bookmarks still work.
@bp.get("/admin/routing")
@roles_required("institution_admin")
def admin_routing():
    return redirect(url_for("admin.committees"), code=301)


@bp.get("/admin/conditions")
@roles_required("institution_admin")
def admin_conditions():
    return redirect(url_for("admin.conditions"), code=301)


@bp.app_template_global("researcher_review")
def researcher_review(proposal) -> dict | None:
    """For templates: what the researcher sees of the review of ``proposal`` (None before a case exists)."""
    return case_page.researcher_view(db.session, proposal)
