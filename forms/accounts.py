from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, IntegerField, PasswordField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length, NumberRange

from forms.validators import PlainText, strip_filter


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254), PlainText()],
                       filters=[strip_filter], render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()
    submit = SubmitField(_l("Log in"))


class SetPasswordForm(FlaskForm):
    """A new password, typed twice (also used by advisors setting their first password)."""

    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(), Length(min=12, max=1024, message=_l("Use 12 to 1024 characters."))],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords do not match."))],
        render_kw={"autocomplete": "new-password"},
    )


class ChangePasswordForm(SetPasswordForm):
    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=1024)],
                                     render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Change password"))


class PlainActionForm(FlaskForm):
    """A form with only the CSRF token, for buttons such as log out, withdraw, submit."""


class SwitchInstitutionForm(FlaskForm):
    """The header's switcher: which of the user's institutions they act for (checked by the service)."""

    institution = IntegerField(_l("Institution"), validators=[DataRequired(), NumberRange(min=1, max=2**31 - 1)])
