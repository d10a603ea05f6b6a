"""Writing many rows at once inside the caller's transaction: COPY on PostgreSQL, executemany elsewhere.

For bulk work such as an import chunk (thousands of rows over a few tables). The rows are plain
column-value dicts that all name the same columns and give every value the table needs: COPY
applies no Python-side column defaults and returns no generated keys.
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from screening.core.database import json_text


def insert_rows(session: Session, model, rows: Sequence[dict[str, Any]]) -> None:
    """Insert ``rows`` into ``model``'s table; flushes pending ORM changes first, never commits."""
    if not rows:
        return
    table: sa.Table = model.__table__
    if session.get_bind().dialect.name != "postgresql":
        session.execute(sa.insert(table), rows)
        return
    session.flush()
    names = list(rows[0])
    as_json = [isinstance(table.c[name].type, sa.JSON) for name in names]
    quote = session.get_bind().dialect.identifier_preparer.quote
    statement = f"COPY {quote(table.name)} ({', '.join(quote(n) for n in names)}) FROM STDIN"
    driver = session.connection().connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row([json_text(row[n]) if j else row[n]
                            for n, j in zip(names, as_json, strict=True)])

