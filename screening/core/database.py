"""Column types and the metadata naming convention shared by every feature's tables.

Every ``models.py`` imports from here, so the naming convention is set before the first table is
defined. Table models do not validate on construction: services validate input (forms or plain
checks) before building rows. No ``from __future__ import annotations`` in model modules
(relationships break).
"""

import json
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
