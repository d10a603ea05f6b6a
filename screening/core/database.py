"""Column types and the metadata naming convention shared by every feature's tables.

Every ``models.py`` imports from here, so the naming convention is set before the first table is
defined. Table models do not validate on construction: services validate input (forms or plain
checks) before building rows. No ``from __future__ import annotations`` in model modules
(relationships break).
"""

import json
import re
from datetime import UTC, datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.ext.mutable import MutableDict
from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
SQLModel.metadata.naming_convention = NAMING_CONVENTION


def utcnow() -> datetime:
    return datetime.now(UTC)


_LONG_NUMBER = re.compile(r"[0-9]{20}")
_LONG_NUMBER_BYTES = re.compile(rb"[0-9]{20}")


def json_value(text: str | bytes) -> Any:
    """A JSON column's text as Python values: the engines' ``json_deserializer``.

    orjson parses in a fraction of json.loads' time (an import chunk loads hundreds of proposals),
    but reads an integer beyond 64 bits as a float: a text with 20 digits in a row anywhere goes
    to json.loads, as does anything orjson refuses (NaN, a lone surrogate), so the values are
    always json.loads' own.
    """
    if isinstance(text, memoryview):
        text = text.tobytes()
    long_number = _LONG_NUMBER_BYTES if isinstance(text, bytes | bytearray) else _LONG_NUMBER
    if not long_number.search(text):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)


def json_text(value: Any) -> str:
    """The text of a JSON column's value: the engines' ``json_serializer`` and the bulk COPY's.

    orjson takes a tenth of json.dumps' time, and an import writes tens of thousands of JSON values
    (versions, results, audit details). The compact text reads back as the same values; integer
    keys become strings as with json.dumps. A value orjson refuses (an integer beyond 64 bits) is
    written by json.dumps, as before.
    """
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


class UTCDateTime(sa.types.TypeDecorator):
    """Timezone-aware UTC datetimes on every backend (SQLite returns naive values)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused; use timezone-aware UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JSONDict = MutableDict.as_mutable(sa.JSON)
