"""Shared field validators."""

import re

from flask_babel import lazy_gettext as _l
from wtforms.validators import ValidationError

# Control characters (except tab/newline/carriage return), bidi overrides and isolates,
# zero-width characters and the byte-order mark: never legitimate in names or titles.
_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
_FORBIDDEN_MULTILINE = _FORBIDDEN


class PlainText:
    """Rejects NUL and other control characters, bidi overrides and zero-width characters."""

    def __init__(self, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, form, field):
        value = field.data
        if not isinstance(value, str) or not value:
            return
        if not self.multiline and ("\n" in value or "\r" in value):
            raise ValidationError(_l("Line breaks are not allowed here."))
        if _FORBIDDEN.search(value):
            raise ValidationError(
                _l("Contains invisible or control characters (e.g. direction overrides); please retype it.")
            )


def strip_filter(value):
    return value.strip() if isinstance(value, str) else value
