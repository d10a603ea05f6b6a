from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired


class LoginPolicyForm(FlaskForm):
    """Whether the institution's people may still log in with a password (its admins always may)."""

    password_login = RadioField(
        _l("Password login"),
        choices=[SelectChoice("on", _l("On: everybody may log in with a password")),
                 SelectChoice("off", _l("Off: only single sign-on; administrators keep their password "
                                        "(break-glass)"))],
        validators=[InputRequired()],
    )
    submit = SubmitField(_l("Save"))
