from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from forms.validators import PlainText, strip_filter


class CreateTokenForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=100), PlainText()],
                       filters=[strip_filter])
    scope = RadioField(_l("Scope"), choices=[SelectChoice("read", _l("Read: look up and screen")),
                                             SelectChoice("write", _l("Write: also create and submit proposals"))],
                       default="read", validators=[DataRequired()])
    expires_in_days = SelectField(_l("Expires after"), coerce=int, default=30,
                                  choices=[SelectChoice("7", _l("7 days")), SelectChoice("30", _l("30 days")),
                                           SelectChoice("90", _l("90 days")), SelectChoice("365", _l("1 year"))])
    submit = SubmitField(_l("Create token"))
