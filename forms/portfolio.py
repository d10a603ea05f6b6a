"""Forms of the international office's portfolio: the bulk import."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectField


class ImportForm(FlaskForm):
    file = FileField(_l("Spreadsheet (.csv or .xlsx)"), validators=[FileRequired()])
    owner = SelectField(_l("Owner of the imported collaborations"), coerce=int, validate_choice=True)
    valid_rows_only = BooleanField(_l("Import the valid rows and leave out the rows with errors"))
