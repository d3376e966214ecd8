"""Database helpers every floor uses: fast reads into pandas, catalogue look-ups, and applying a
package's DDL file. None of them opens a connection or a transaction: callers pass theirs."""

from __future__ import annotations

import io
from importlib.resources import files
from typing import Any

import pandas as pd
import psycopg
from psycopg import sql


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
