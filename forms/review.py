"""Forms of the committee review (Flask-WTF, CSRF-protected)."""

from datetime import UTC, datetime, time, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    EmailField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from forms.proposals import CheckboxesField, select_choices
from forms.validators import PlainText, strip_filter

DISPOSITION_CHOICES = [
    ("confirmed", _l("Confirmed: the concern applies")),
    ("dismissed", _l("Dismissed: false match")),
    ("mitigated", _l("Mitigated by a condition")),
]
RECOMMENDATION_CHOICES = [
    ("approve", _l("Approve")),
    ("approve_with_conditions", _l("Approve with conditions")),
    ("decline", _l("Decline")),
]
OUTCOME_CHOICES = [
    ("approved", _l("Approved")),
    ("approved_with_conditions", _l("Approved with conditions")),
    ("declined", _l("Declined")),
]
COMMENT_CHOICES = [
    ("internal", _l("Internal comment (committee only)")),
    ("message", _l("Message to the researcher")),
]


def _reason(label, max_length=20000):
    return TextAreaField(label, filters=[strip_filter],
                         validators=[DataRequired(_l("Give a reason.")), Length(max=max_length),
                                     PlainText(multiline=True)])


class DispositionForm(FlaskForm):
    flag = HiddenField(validators=[DataRequired(), Length(max=64)])
    disposition = RadioField(_l("Disposition"), choices=select_choices(DISPOSITION_CHOICES),
                             validators=[DataRequired(_l("Choose a disposition."))])
    reason = _reason(_l("Reason"))


class CommentForm(FlaskForm):
    kind = RadioField(_l("Kind"), choices=select_choices(COMMENT_CHOICES), default="internal",
                      validators=[DataRequired()])
    body = TextAreaField(_l("Text"), filters=[strip_filter],
                         validators=[DataRequired(_l("Write something.")), Length(max=20000),
                                     PlainText(multiline=True)])


class InformationRequestForm(FlaskForm):
    questions = TextAreaField(_l("Questions to the researcher"), filters=[strip_filter],
                              validators=[DataRequired(_l("Write your questions.")), Length(max=20000),
                                          PlainText(multiline=True)])


class ReasonForm(FlaskForm):
    """Reopening a case or declaring a conflict of interest: a reason is required."""

    reason = _reason(_l("Reason"), 5000)


class AssignForm(FlaskForm):
    rapporteur = SelectField(_l("Rapporteur"), coerce=str, validate_choice=True,
                             validators=[DataRequired(_l("Choose a member."))])


class VoteForm(FlaskForm):
    recommendation = RadioField(_l("Recommendation"), choices=select_choices(RECOMMENDATION_CHOICES),
                                validators=[DataRequired(_l("Choose a recommendation."))])
    text = _reason(_l("Justification"))


class DecisionForm(FlaskForm):
    case_version = HiddenField(validators=[DataRequired()])
    outcome = RadioField(_l("Decision"), choices=select_choices(OUTCOME_CHOICES),
                         validators=[DataRequired(_l("Choose a decision."))])
    reasoning = _reason(_l("Reasoning"))
    conditions = CheckboxesField(_l("Conditions"), coerce=int, choices=[], validate_choice=True)
    free_conditions = TextAreaField(_l("Further conditions (one per line)"), filters=[strip_filter],
                                    validators=[Optional(), Length(max=10000), PlainText(multiline=True)])

    def validate_case_version(self, field):
        if not str(field.data or "").isdigit() or len(str(field.data)) > 9:
            raise ValidationError(_l("Invalid form."))

    def free_list(self) -> list[str]:
        return [line.strip() for line in (self.free_conditions.data or "").splitlines() if line.strip()]


class InviteAdvisorForm(FlaskForm):
    email = EmailField(_l("E-mail"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=254), PlainText()])
    name = StringField(_l("Name"), filters=[strip_filter], validators=[Optional(), Length(max=200), PlainText()])
    expires_on = DateField(_l("Access until (inclusive)"), validators=[DataRequired()])

    def validate_expires_on(self, field):
        today = datetime.now(UTC).date()
        if not field.data or not (today <= field.data <= today + timedelta(days=365)):
            raise ValidationError(_l("Choose a date between today and one year from now."))

    def expires_at(self) -> datetime:
        return datetime.combine(self.expires_on.data, time(23, 59, 59), tzinfo=UTC)


class RevokeAdvisorForm(FlaskForm):
    invitation = IntegerField(validators=[DataRequired(), NumberRange(min=1, max=2**31)])


class OpinionForm(FlaskForm):
    body = TextAreaField(_l("Your opinion"), filters=[strip_filter],
                         validators=[DataRequired(_l("Write your opinion.")), Length(max=20000),
                                     PlainText(multiline=True)])
