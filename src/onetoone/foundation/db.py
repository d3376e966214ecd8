"""Database helpers every floor uses: fast reads into pandas, catalogue look-ups, and applying a
package's DDL file. None of them opens a connection or a transaction: callers pass theirs."""

from __future__ import annotations

import io
import logging
import re
import time
from importlib.resources import files
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql

log = logging.getLogger(__name__)


def read_query(conn: psycopg.Connection, query: str, **read_csv: Any) -> pd.DataFrame:
    """The rows of ``query`` as a DataFrame (COPY ... TO STDOUT as CSV, the fast way out of
    PostgreSQL); ``read_csv`` options set the column types."""
    buffer = io.BytesIO()
    with conn.cursor().copy(f"copy ({query}) to stdout with (format csv, header true)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pd.read_csv(buffer, **read_csv)


def relation_exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null",
                        (sql.Identifier(schema, name).as_string(conn),)).fetchone()[0]


def has_column(conn: psycopg.Connection, schema: str, table: str, column: str) -> bool:
    return conn.execute(
        "select 1 from information_schema.columns"
        " where table_schema = %s and table_name = %s and column_name = %s",
        (schema, table, column)).fetchone() is not None


def apply_ddl(conn: psycopg.Connection, package: str, name: str = "schema.sql") -> None:
    """Run a package's idempotent DDL file (each stage keeps its schema's in one)."""
    conn.execute(files(package).joinpath(name).read_text(encoding="utf-8"))


def nulls(columns: tuple[str, ...] | list[str]) -> sql.Composed:
    """``a = null, b = null, ...`` for an UPDATE's SET list."""
    return sql.SQL(", ").join(sql.SQL("{} = null").format(sql.Identifier(c)) for c in columns)


def sha256_hex(expression: sql.Composable) -> sql.Composed:
    """SQL for the hex SHA-256 of a text expression (as ``erasures.subject_hash`` computes)."""
    return sql.SQL("encode(sha256(convert_to({}, 'UTF8')), 'hex')").format(expression)


_NOT_YET_REMOVABLE = re.compile(r"(\d+) are dead but not yet removable")


def vacuum_away_dead_rows(conn: psycopg.Connection, tables, *, attempts: int = 20,
                          pause_seconds: float = 0.25) -> dict[str, int]:
    """VACUUM (ANALYZE) each existing ``schema.table`` after an erasure committed, so the dead
    row versions holding erased values leave the table's pages. A transaction open in the same
    database (an autovacuum ANALYZE, a reader) keeps versions it may still see: VACUUM then
    reports them "dead but not yet removable", and it is repeated after a pause until none
    are left, for up to ``attempts`` tries. Answers the versions still left per table (none,
    normally), which a warning names. ``conn`` must be in autocommit mode (VACUUM cannot run
    in a transaction)."""
    reports: list[str] = []

    def keep(diagnostic) -> None:
        reports.append(diagnostic.message_primary or "")

    left: dict[str, int] = {}
    conn.add_notice_handler(keep)
    try:
        for table in sorted(tables):
            schema, name = table.split(".", 1)
            if not relation_exists(conn, schema, name):
                continue
            for _ in range(attempts):
                reports.clear()
                conn.execute(sql.SQL("vacuum (analyze, verbose) {}").format(
                    sql.Identifier(schema, name)))
                held = sum(int(n) for report in reports
                           for n in _NOT_YET_REMOVABLE.findall(report))
                if not held:
                    break
                time.sleep(pause_seconds)
            if held:
                left[table] = held
                log.warning("%s: %d dead row version(s) are still held by an open transaction"
                            " in this database; the next vacuum removes them", table, held)
    finally:
        conn.remove_notice_handler(keep)
    return left
