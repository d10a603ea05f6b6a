"""The administration pages (``/admin``): one place for an institution administrator's work.

Every page needs the ``institution_admin`` role in the current institution and shows only that
institution's people, committees, providers and tokens; the services check it again and answer
another institution's ids with 404. Views are thin: validate the form, call a service, commit
once; a refused change re-renders the page with the reason at the field (400).
"""

import os
from pathlib import Path

from flask import Blueprint, abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from forms.accounts import PlainActionForm, SetPasswordForm
from forms.admin import (
    AccountStateForm,
    AuditFilterForm,
    CommitteeForm,
    ConditionTemplateForm,
    DeleteRuleForm,
    InviteUserForm,
    ListUploadForm,
    MemberForm,
    OidcProviderForm,
    RoleChangeForm,
    RoutingRuleForm,
    SamlProviderForm,
    StagedListForm,
)
from forms.proposals import select_choices
from forms.sso import LoginPolicyForm
from screening.accounts.access import roles_required
from screening.admin import audit_log, installation, lists, providers, users
from screening.admin import notifications as _mail  # noqa: F401 - registers account_invited
from screening.admin.access import ADMIN
from screening.api import tokens
from screening.core.errors import Conflict, ValidationFailed
from screening.core.extensions import db
from screening.review import admin as review_admin
from screening.sso import saml
from screening.sso.identity import SsoError

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: The administration menu: (endpoint, label). Another feature adds its page by appending here.
NAV: list[tuple[str, object]] = [
    ("admin.users_page", _l("Users")),
    ("admin.committees", _l("Committees and routing")),
    ("admin.conditions", _l("Condition templates")),
    ("admin.identity_providers", _l("Sign-on")),
    ("admin.api_tokens", _l("API tokens")),
    ("admin.partner_lists", _l("Lists")),
    ("admin.audit_log_page", _l("Audit log")),
    ("documents.admin", _l("Letters")),
    ("notifications.failed", _l("Undelivered mail")),
    ("privacy.index", _l("Privacy")),
]
#: Only for installation administrators (screening.admin.installation), whatever their roles.
INSTALLATION_NAV = ("installation.index", _l("Installation"))
STAGED_KEY = "admin_staged_list"


@bp.app_context_processor  # pages of other features (letters, undelivered mail) sit in the same menu
def _navigation() -> dict:
    actor = g.get("actor")
    nav = list(NAV) if actor is not None and actor.has(ADMIN) else []
    if installation.is_installation_admin(g.get("user")):
        nav.append(INSTALLATION_NAV)
    return {"admin_nav": nav}


def _refused(form, exc: ValidationFailed | Conflict) -> None:
    """Put a service's refusal at the form's fields (or at the form when no field matches)."""
    errors = exc.errors if isinstance(exc, ValidationFailed) else {"": str(exc)}
    db.session.rollback()
    for name, message in errors.items():
        field = getattr(form, name.partition(".")[2] or name, None) if name else None
        target = field.errors if field is not None and hasattr(field, "errors") and isinstance(field.errors, list) \
            else form.form_errors
        target.append(message)


def _attempt(form, fn, *args, **kwargs) -> bool:
    """Run a service and commit; False (the form carrying the reason) when it refuses."""
    try:
        fn(db.session, g.actor, *args, **kwargs)
    except (ValidationFailed, Conflict) as exc:
        _refused(form, exc)
        return False
    db.session.commit()
    return True


@bp.get("/")
@roles_required(ADMIN)
def index():
    return redirect(url_for(".users_page"))


# ---------------------------------------------------------------- users


def _users_page(invite_form=None, status: int = 200):
    query = request.args.get("q", "")[:200]
    return render_template("admin/users.html", query=query, people=users.search_people(db.session, g.actor, query),
                           invite_form=invite_form or InviteUserForm(prefix="invite"), role_form=RoleChangeForm(),
                           state_form=AccountStateForm(), errors=[],
                           sso_only=users.signs_in_by_sso(db.session, g.actor.institution_id)), status


@bp.get("/users")
@roles_required(ADMIN)
def users_page():
    return _users_page()


@bp.post("/users/invite")
@roles_required(ADMIN)
def invite_user():
    form = InviteUserForm(prefix="invite")
    if not form.validate():
        return _users_page(form, 400)
    if not _attempt(form, users.invite, form.email.data, form.name.data, form.roles.data):
        return _users_page(form, 400)
    return redirect(url_for(".users_page", q=form.email.data), code=303)


def _person_change(form, fn, user_id: int, *args):
    users.own_person(db.session, g.actor, user_id)  # 404 for another institution's person, before the form
    if not form.validate() or not _attempt(form, fn, user_id, *args):
        messages = [*form.form_errors, *(m for errs in form.errors.values() for m in errs if isinstance(m, str))]
        abort(400, description=_("The change was refused: %(errors)s", errors="; ".join(dict.fromkeys(messages))))
    return redirect(url_for(".users_page"), code=303)


@bp.post("/users/<int:user_id>/state")
@roles_required(ADMIN)
def user_state(user_id: int):
    form = AccountStateForm()
    return _person_change(form, users.set_active, user_id, form.active.data == "on")


@bp.post("/users/<int:user_id>/roles")
@roles_required(ADMIN)
def user_roles(user_id: int):
    form = RoleChangeForm()
    return _person_change(form, users.change_role, user_id, form.role.data, form.change.data == "grant")


@bp.route("/welcome/<token>", methods=["GET", "POST"])
def welcome(token: str):
    """The invitation's one-time link: choose the first password, then log in."""
    if users.invitation_for_token(db.session, token) is None:
        abort(404)
    form = SetPasswordForm()
    if request.method == "POST":
        if not form.validate():
            return render_template("admin/welcome.html", form=form), 400
        try:
            users.accept_invitation(db.session, token, form.new_password.data)
        except ValidationFailed as exc:
            _refused(form, exc)
            return render_template("admin/welcome.html", form=form), 400
        db.session.commit()
        return redirect(url_for("auth.login"), code=303)
    return render_template("admin/welcome.html", form=form)


# ---------------------------------------------------------------- committees, routing, conditions


def _committee_forms(overview: dict) -> dict:
    committee_choices = select_choices((c.id, c.name) for c, _m in overview["committees"])
    member, rule = MemberForm(prefix="member"), RoutingRuleForm(prefix="rule")
    member.committee.choices = committee_choices
    rule.committee.choices = committee_choices
    return {"committee_form": CommitteeForm(prefix="committee"), "member_form": member, "rule_form": rule,
            "delete_form": DeleteRuleForm(prefix="delete")}


COMMITTEE_ACTIONS = {
    "committee": ("committee_form", review_admin.create_committee, ("name", "due_days")),
    "member": ("member_form", review_admin.add_committee_member, ("committee", "email", "role")),
    "rule": ("rule_form", review_admin.add_routing_rule, ("committee", "kind", "value")),
    "delete": ("delete_form", review_admin.delete_routing_rule, ("rule",)),
}


@bp.route("/committees", methods=["GET", "POST"])
@roles_required(ADMIN)
def committees():
    overview = review_admin.admin_overview(db.session, g.actor)
    forms = _committee_forms(overview)
    if request.method == "POST":
        action = COMMITTEE_ACTIONS.get(request.form.get("action", ""))
        if action is None:
            abort(400)
        form_name, service, fields = action
        form = forms[form_name]
        if not form.validate() or not _attempt(form, service, *(getattr(form, f).data for f in fields)):
            return render_template("admin/committees.html", **overview, **forms), 400
        return redirect(url_for(".committees"), code=303)
    return render_template("admin/committees.html", **overview, **forms)


@bp.route("/conditions", methods=["GET", "POST"])
@roles_required(ADMIN)
def conditions():
    templates = review_admin.admin_overview(db.session, g.actor)["templates"]
    form = ConditionTemplateForm(prefix="tpl")
    if request.method == "POST":
        if not form.validate() or not _attempt(form, review_admin.save_condition_template, form.key.data,
                                               form.text_en.data, form.text_de.data, form.active.data == "1"):
            return render_template("admin/conditions.html", templates=templates, form=form), 400
        return redirect(url_for(".conditions"), code=303)
    return render_template("admin/conditions.html", templates=templates, form=form)


# ---------------------------------------------------------------- identity providers


def _providers_page(saml_form=None, oidc_form=None, status: int = 200):
    rows = providers.providers(db.session, g.actor)
    by_protocol = {p.protocol: p for p in rows}
    if saml_form is None:
        saml_form = SamlProviderForm(prefix="saml", formdata=None, **_provider_defaults(by_protocol.get("saml")))
    if oidc_form is None:
        oidc_form = OidcProviderForm(prefix="oidc", formdata=None, **_provider_defaults(by_protocol.get("oidc")))
    enabled = providers.password_login_enabled(db.session, g.actor)
    return render_template("admin/identity_providers.html", providers=rows, saml_form=saml_form,
                           oidc_form=oidc_form, toggle_form=PlainActionForm(), sp_entity_id=saml.sp_entity_id(),
                           policy_form=LoginPolicyForm(password_login="on" if enabled else "off")), status


def _provider_defaults(provider) -> dict:
    if provider is None:
        return {}
    values = {"slug": provider.slug, "display_name": provider.display_name,
              "scopes": " ".join(provider.attribute_mapping.get("scopes", [])),
              "entitlement_roles": providers.entitlement_lines(provider)}
    if provider.protocol == "oidc":
        values.update(issuer=provider.entity_id, client_id=provider.client_id)
    else:
        values.update(entity_id=provider.entity_id)
    return values


@bp.get("/identity-providers")
@roles_required(ADMIN)
def identity_providers():
    return _providers_page()


def _save_provider(form, service, fields: tuple[str, ...]) -> bool:
    try:
        ok = form.validate() and _attempt(form, service, scopes=form.scopes.data,
                                          entitlement_lines=form.entitlement_roles.data,
                                          **{name: getattr(form, name).data for name in fields})
    except SsoError as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        ok = False
    return ok


@bp.post("/identity-providers/saml")
@roles_required(ADMIN)
def save_saml_provider():
    form = SamlProviderForm(prefix="saml")
    if not _save_provider(form, providers.save_saml, ("slug", "display_name", "metadata_xml", "entity_id")):
        return _providers_page(saml_form=form, status=400)
    return redirect(url_for(".identity_providers"), code=303)


@bp.post("/identity-providers/oidc")
@roles_required(ADMIN)
def save_oidc_provider():
    form = OidcProviderForm(prefix="oidc")
    if not _save_provider(form, providers.save_oidc,
                          ("slug", "display_name", "issuer", "client_id", "client_secret")):
        return _providers_page(oidc_form=form, status=400)
    return redirect(url_for(".identity_providers"), code=303)


@bp.post("/identity-providers/<int:provider_id>/toggle")
@roles_required(ADMIN)
def toggle_provider(provider_id: int):
    form = PlainActionForm()
    if not form.validate():
        abort(400)
    providers.toggle(db.session, g.actor, provider_id)
    db.session.commit()
    return redirect(url_for(".identity_providers"), code=303)


@bp.post("/identity-providers/password-login")
@roles_required(ADMIN)
def password_login():
    form = LoginPolicyForm()
    if not form.validate():
        abort(400, description=_("Choose whether password login stays on."))
    providers.set_password_login(db.session, g.actor, form.password_login.data == "on")
    db.session.commit()
    return redirect(url_for(".identity_providers"), code=303)


# ---------------------------------------------------------------- API tokens


@bp.get("/tokens")
@roles_required(ADMIN)
def api_tokens():
    return render_template("admin/tokens.html", rows=tokens.institution_tokens(db.session, g.actor),
                           action_form=PlainActionForm())


@bp.post("/tokens/<int:token_id>/revoke")
@roles_required(ADMIN)
def revoke_token(token_id: int):
    if not PlainActionForm().validate():
        abort(400)
    tokens.revoke_for_institution(db.session, g.actor, token_id)
    db.session.commit()  # every worker's token cache forgets the token (screening.api.token_cache)
    return redirect(url_for(".api_tokens"), code=303)


# ---------------------------------------------------------------- partner lists


def _list_dirs() -> dict:
    target = os.environ.get("SCREENING_LISTS_DIR") or ""
    if not target:
        abort(400, description=_("SCREENING_LISTS_DIR is not set: the lists of this installation cannot be "
                                 "changed from the web."))
    return {"lists_dir": Path(target), "staging_dir": Path(current_app.instance_path) / "list-staging"}


def _lists_page(form=None, staged=None, status: int = 200):
    return render_template("admin/lists.html", lists=lists.current_lists(g.actor), form=form or ListUploadForm(),
                           staged=staged, confirm_form=StagedListForm(formdata=None),
                           writable=bool(os.environ.get("SCREENING_LISTS_DIR"))), status


@bp.get("/lists")
@roles_required(ADMIN)
def partner_lists():
    staged = None
    if token := session.get(STAGED_KEY):
        try:
            staged = lists.staged(g.actor, token, **_list_dirs())
        except (ValidationFailed, LookupError):
            session.pop(STAGED_KEY, None)
    return _lists_page(staged=staged)


@bp.post("/lists")
@roles_required(ADMIN)
def upload_list():
    """Step one: import the file into staging and show what it would change."""
    form = ListUploadForm()
    if not form.validate():
        return _lists_page(form, status=400)
    dirs = _list_dirs()
    try:
        data = form.file.data.read()
    finally:
        form.file.data.close()
    try:
        staged = lists.stage_upload(g.actor, data, form.format.data, form.name.data, form.version.data, **dirs)
    except ValidationFailed as exc:
        _refused(form, exc)
        return _lists_page(form, status=400)
    if previous := session.get(STAGED_KEY):
        lists.discard(dirs["staging_dir"], previous)
    session[STAGED_KEY] = staged.token
    return redirect(url_for(".partner_lists"), code=303)


@bp.post("/lists/staged")
@roles_required(ADMIN)
def confirm_list():
    """Step two: apply the previewed version (or discard it). Only the uploader's own session holds it."""
    form = StagedListForm()
    if not form.validate() or form.staged.data != session.get(STAGED_KEY):
        abort(400, description=_("This preview is no longer current; upload the file again."))
    dirs = _list_dirs()
    session.pop(STAGED_KEY, None)
    if form.decision.data == "discard":
        lists.discard(dirs["staging_dir"], form.staged.data)
        return redirect(url_for(".partner_lists"), code=303)
    try:
        lists.apply_staged(db.session, g.actor, form.staged.data, **dirs)
    except ValidationFailed as exc:
        db.session.rollback()
        abort(400, description=_("The list could not be applied: %(error)s", error=str(exc)))
    db.session.commit()
    return redirect(url_for(".partner_lists"), code=303)


# ---------------------------------------------------------------- audit log


@bp.get("/audit")
@roles_required(ADMIN)
def audit_log_page():
    form = AuditFilterForm(request.args)
    if request.args and not form.validate():
        return render_template("admin/audit.html", form=form, events=[], chain=None, older_url=None), 400
    subject_type, subject_id = audit_log.parse_subject(form.subject.data or "")
    before = request.args.get("before", "")
    filters = audit_log.AuditFilters(action=form.action.data or "", actor=form.actor.data or "",
                                     subject_type=subject_type, subject_id=subject_id, since=form.since.data,
                                     until=form.until.data,
                                     before_seq=int(before) if before.isdigit() and len(before) < 10 else None)
    events = audit_log.events(db.session, g.actor, filters)
    older_url = url_for(".audit_log_page", **{**request.args.to_dict(), "before": events[-1].seq}) \
        if len(events) == audit_log.PAGE_SIZE else None
    return render_template("admin/audit.html", form=form, events=events, older_url=older_url,
                           chain=audit_log.chain_status(db.session, g.actor))
