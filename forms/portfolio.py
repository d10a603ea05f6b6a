"""Forms of the international office's portfolio: bulk import and list upload."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, Regexp

from forms.validators import PlainText, strip_filter


class ImportForm(FlaskForm):
    file = FileField(_l("Spreadsheet (.csv or .xlsx)"), validators=[FileRequired()])
    owner = SelectField(_l("Owner of the imported collaborations"), coerce=int, validate_choice=True)
    valid_rows_only = BooleanField(_l("Import the valid rows and leave out the rows with errors"))


class ListUploadForm(FlaskForm):
    file = FileField(_l("List file"), validators=[FileRequired()])
    format = SelectField(_l("Format"), choices=[
        SelectChoice("csv", "CSV"), SelectChoice("misp-galaxy", "MISP galaxy (JSON)"),
        SelectChoice("csl", "Consolidated Screening List (JSON)")])
    name = StringField(_l("List name"), filters=[strip_filter],
                       validators=[Optional(), Length(max=64), Regexp(r"^[a-z0-9][a-z0-9-]*$"), PlainText()])
    version = StringField(_l("Version (ISO date)"), filters=[strip_filter],
                          validators=[Optional(), Regexp(r"^\d{4}-\d{2}-\d{2}$")])
