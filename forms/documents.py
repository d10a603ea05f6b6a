"""Forms of the letters pages: public verification and the retry button (CSRF-protected)."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import StringField
from wtforms.validators import Length, Optional, Regexp

from forms.validators import strip_filter


class VerifyForm(FlaskForm):
    """Either a PDF file or a typed SHA-256 (64 hex digits)."""

    document = FileField(_l("Letter (PDF)"))
    sha256 = StringField(_l("or its SHA-256"), filters=[strip_filter],
                         validators=[Optional(), Length(max=64),
                                     Regexp(r"^[0-9a-fA-F]{64}$", message=_l("64 hexadecimal digits"))])


class RetryForm(FlaskForm):
    """Only the CSRF token."""
