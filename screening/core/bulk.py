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
        _executemany(session, table, rows)
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


def _executemany(session: Session, table: sa.Table, rows: Sequence[dict[str, Any]]) -> None:
    """One compiled INSERT, executed by the driver for all rows. Each value goes through its column
    type's bind processor, as SQLAlchemy would do, without SQLAlchemy's handling of a parameter dict
    per row (on SQLite a third of an import chunk's inserting, ``bench/import_bench.py``)."""
    connection = session.connection()
    dialect = connection.dialect
    statement = sa.insert(table).compile(dialect=dialect, column_keys=list(rows[0]))
    if statement.positiontup is None:  # a driver with named parameters: SQLAlchemy's own executemany
        session.execute(sa.insert(table), rows)
        return
    session.flush()
    plan = [(key, table.c[key].type.dialect_impl(dialect).bind_processor(dialect))
            for key in statement.positiontup]

    def values(row: dict[str, Any]) -> tuple:
        return tuple([row[key] if process is None else process(row[key]) for key, process in plan])

    connection.exec_driver_sql(statement.string, [values(row) for row in rows])
