"""Forms of the privacy pages: a person's data export and erasure (institution admins)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, SubmitField
from wtforms.validators import DataRequired, Length, ValidationError

from forms.validators import PlainText, strip_filter


class PersonForm(FlaskForm):
    """Names one person by their e-mail address."""

    email = EmailField(_l("E-mail address of the person"), filters=[strip_filter],
                       validators=[DataRequired(), Length(max=254), PlainText()])
    submit = SubmitField(_l("Download their data (ZIP)"))


class EraseForm(PersonForm):
    """Erasure asks for the address twice; "preview" only counts what would change."""

    confirm = EmailField(_l("The same address again, to confirm"), filters=[strip_filter],
                         validators=[DataRequired(), Length(max=254), PlainText()])
    preview = SubmitField(_l("Preview"))
    submit = SubmitField(_l("Erase this person"))

    def validate_confirm(self, field) -> None:
        if (field.data or "").lower() != (self.email.data or "").lower():
            raise ValidationError(_l("The two addresses differ."))
