"""Forms of the administration pages (Flask-WTF, CSRF-protected)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, EmailField, HiddenField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from forms.proposals import CheckboxesField, select_choices
from forms.validators import PlainText, strip_filter
from screening.core.i18n import ROLE_LABELS

ROLE_CHOICES = list(ROLE_LABELS.items())


class InviteUserForm(FlaskForm):
    email = EmailField(_l("E-mail"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=254), PlainText()])
    name = StringField(_l("Name"), filters=[strip_filter], validators=[DataRequired(), Length(max=200), PlainText()])
    roles = CheckboxesField(_l("Roles"), choices=select_choices(ROLE_CHOICES),
                            validators=[DataRequired(_l("Choose at least one role."))])


class RoleChangeForm(FlaskForm):
    role = SelectField(_l("Role"), choices=select_choices(ROLE_CHOICES), validators=[DataRequired()])
    change = SelectField(choices=select_choices([("grant", _l("Grant")), ("revoke", _l("Revoke"))]),
                         validators=[DataRequired()])


class CommitteeForm(FlaskForm):
    name = StringField(_l("Committee name"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=200), PlainText()])
    due_days = IntegerField(_l("Days to decide"), default=30, validators=[DataRequired(), NumberRange(min=1, max=365)])


class MemberForm(FlaskForm):
    committee = SelectField(_l("Committee"), coerce=int, validators=[DataRequired()])
    email = EmailField(_l("E-mail"), filters=[strip_filter], validators=[DataRequired(), Length(max=254), PlainText()])
    role = SelectField(_l("Role"), choices=select_choices([("member", _l("Member")), ("chair", _l("Chair"))]),
                       validators=[DataRequired()])


class RoutingRuleForm(FlaskForm):
    committee = SelectField(_l("Committee"), coerce=int, validators=[DataRequired()])
    kind = SelectField(_l("Route by"), choices=select_choices([("faculty", _l("Faculty")),
                                                         ("field_prefix", _l("Field of research (FORD prefix)"))]),
                       validators=[DataRequired()])
    value = StringField(_l("Value"), filters=[strip_filter], validators=[DataRequired(), Length(max=100), PlainText()])


class DeleteRuleForm(FlaskForm):
    rule = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=2**31)])


class ConditionTemplateForm(FlaskForm):
    key = StringField(_l("Key"), filters=[strip_filter],
                      validators=[DataRequired(), Length(max=64), PlainText()])
    text_en = TextAreaField(_l("English text"), filters=[strip_filter],
                            validators=[DataRequired(), Length(max=2000), PlainText(multiline=True)])
    text_de = TextAreaField(_l("German text"), filters=[strip_filter],
                            validators=[DataRequired(), Length(max=2000), PlainText(multiline=True)])
    active = SelectField(_l("In use"), choices=select_choices([("1", _l("yes")), ("0", _l("no"))]), default="1")


class _ProviderForm(FlaskForm):
    """What every identity provider has: its names and the attribute mapping."""

    slug = StringField(_l("Short name (in the sign-in address)"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=63), Regexp(r"^[a-z0-9][a-z0-9-]*$")])
    display_name = StringField(_l("Name on the sign-in button"), filters=[strip_filter],
                               validators=[DataRequired(), Length(max=200), PlainText()])
    scopes = StringField(_l("Scopes (the institution's domains, separated by spaces)"), filters=[strip_filter],
                         validators=[DataRequired(), Length(max=1000), PlainText()])
    entitlement_roles = TextAreaField(
        _l("Entitlements that grant a role, one per line: entitlement = role"), filters=[strip_filter],
        validators=[Optional(), Length(max=10000), PlainText(multiline=True)])


class SamlProviderForm(_ProviderForm):
    metadata_xml = TextAreaField(_l("Identity provider metadata (XML)"),
                                 validators=[DataRequired(), Length(max=5_000_000)])
    entity_id = StringField(_l("Entity id (needed for a federation aggregate)"), filters=[strip_filter],
                            validators=[Optional(), Length(max=500), PlainText()])


class OidcProviderForm(_ProviderForm):
    issuer = StringField(_l("Issuer (https address)"), filters=[strip_filter],
                         validators=[DataRequired(), Length(max=500), PlainText()])
    client_id = StringField(_l("Client id"), filters=[strip_filter],
                            validators=[DataRequired(), Length(max=300), PlainText()])
    client_secret = StringField(_l("Client secret"), validators=[DataRequired(), Length(max=500), PlainText()],
                                render_kw={"autocomplete": "off"})


class ListUploadForm(FlaskForm):
    file = FileField(_l("List file"), validators=[FileRequired()])
    format = SelectField(_l("Format"), choices=[
        SelectChoice("csv", "CSV"), SelectChoice("misp-galaxy", "MISP galaxy (JSON)"),
        SelectChoice("csl", "Consolidated Screening List (JSON)")])
    name = StringField(_l("List name"), filters=[strip_filter],
                       validators=[Optional(), Length(max=64), Regexp(r"^[a-z0-9][a-z0-9-]*$"), PlainText()])
    version = StringField(_l("Version (ISO date)"), filters=[strip_filter],
                          validators=[Optional(), Regexp(r"^\d{4}-\d{2}-\d{2}$")])


class AuditFilterForm(FlaskForm):
    """Filters of the audit-log viewer, read from the query string (a GET form: no CSRF token)."""

    class Meta:
        csrf = False

    action = StringField(_l("Action"), filters=[strip_filter],
                         validators=[Optional(), Length(max=64), Regexp(r"^[a-z0-9_.]*$")])
    actor = StringField(_l("Who (e-mail)"), filters=[strip_filter], validators=[Optional(), Length(max=254),
                                                                                 PlainText()])
    subject = StringField(_l("Subject (type or type:id)"), filters=[strip_filter],
                          validators=[Optional(), Length(max=100), Regexp(r"^[a-z_]*(:[A-Za-z0-9_.-]+)?$")])
    since = DateField(_l("From"), validators=[Optional()])
    until = DateField(_l("Until"), validators=[Optional()])


class AccountStateForm(FlaskForm):
    active = SelectField(choices=select_choices([("on", _l("Enable")), ("off", _l("Disable"))]),
                         validators=[DataRequired()])


class StagedListForm(FlaskForm):
    staged = HiddenField(validators=[DataRequired(), Length(min=32, max=64)])
    decision = SelectField(choices=select_choices([("apply", _l("Apply")), ("discard", _l("Discard"))]),
                           validators=[DataRequired()])


class InstitutionForm(FlaskForm):
    """An installation administrator's new institution (screening.admin.installation)."""

    slug = StringField(_l("Short name (in addresses and commands)"), filters=[strip_filter],
                       validators=[DataRequired(), Length(min=2, max=63),
                                   Regexp(r"^[a-z0-9][a-z0-9-]*$", message=_l(
                                       "Use lowercase letters, digits and hyphens, starting with a letter or "
                                       "digit."))])
    name = StringField(_l("Name"), filters=[strip_filter], validators=[DataRequired(), Length(max=300), PlainText()])


class FirstAdminForm(FlaskForm):
    """The invitation of an institution's first administrator; choices: institutions without one."""

    institution = SelectField(_l("Institution"), coerce=int, validators=[DataRequired()])
    email = EmailField(_l("E-mail"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=254), PlainText()])
    name = StringField(_l("Name"), filters=[strip_filter], validators=[DataRequired(), Length(max=200), PlainText()])
