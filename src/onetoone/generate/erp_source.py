"""Load the ERP dump into the ERP source database (schema `erp`), standing in for the legacy
ERP that the pipeline extracts from incrementally on `updated_at`."""

from __future__ import annotations

from pathlib import Path

import psycopg
from psycopg import sql

# Contract columns and types (docs/data-contracts.md, "ERP source database"). No foreign keys:
# the legacy ERP does not enforce them, so order lines may name unknown products.
TABLES: dict[str, tuple[tuple[str, str], ...]] = {
    "customers": (
        ("customer_id", "text"), ("first_name", "text"), ("last_name", "text"),
        ("tax_id", "text"), ("email", "text"), ("phone", "text"), ("address_line", "text"),
        ("city", "text"), ("region", "text"), ("postcode", "text"), ("country", "text"),
        ("birth_date", "date"), ("created_at", "timestamptz"), ("updated_at", "timestamptz"),
    ),
    "products": (
        ("product_id", "text"), ("product_name", "text"), ("category", "text"),
        ("unit_cost", "numeric(12,2)"), ("unit_price", "numeric(12,2)"),
        ("updated_at", "timestamptz"),
    ),
    "orders": (
        ("order_id", "text"), ("customer_id", "text"), ("ordered_at", "timestamptz"),
        ("channel", "text"), ("status", "text"), ("updated_at", "timestamptz"),
    ),
    "order_lines": (
        ("order_id", "text"), ("line_number", "int"), ("product_id", "text"),
        ("quantity", "int"), ("unit_price", "numeric(12,2)"), ("unit_cost", "numeric(12,2)"),
        ("discount", "numeric(12,2)"), ("updated_at", "timestamptz"),
    ),
}
PRIMARY_KEYS = {"customers": ("customer_id",), "products": ("product_id",),
                "orders": ("order_id",), "order_lines": ("order_id", "line_number")}
CHUNK_BYTES = 1 << 20


def _create_tables() -> list[sql.Composable]:
    statements: list[sql.Composable] = [sql.SQL("DROP SCHEMA IF EXISTS erp CASCADE"),
                                        sql.SQL("CREATE SCHEMA erp")]
    for table, columns in TABLES.items():
        statements.append(sql.SQL("CREATE TABLE erp.{} ({})").format(
            sql.Identifier(table), sql.SQL(", ").join(
                sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(kind))
                for name, kind in columns)))
    return statements


def _add_keys() -> list[sql.Composable]:
    """Keys and indexes, built after the bulk load (faster than maintaining them row by row)."""
    statements: list[sql.Composable] = []
    for table, key in PRIMARY_KEYS.items():
        statements.append(sql.SQL("ALTER TABLE erp.{} ADD PRIMARY KEY ({})").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, key))))
    for table in TABLES:
        statements.append(sql.SQL("CREATE INDEX {} ON erp.{} (updated_at)").format(
            sql.Identifier(f"{table}_updated_at_idx"), sql.Identifier(table)))
        statements.append(sql.SQL("ANALYZE erp.{}").format(sql.Identifier(table)))
    return statements


def _check_header(path: Path, columns: list[str]) -> None:
    with path.open(encoding="utf-8") as f:
        header = f.readline().rstrip("\r\n").split(",")
    if header != columns:
        raise ValueError(f"{path}: header {header} does not match the contract {columns}")


def load_erp_source(conninfo: str, erp_dir: Path) -> dict[str, int]:
    """(Re)create schema `erp` with the four contract tables and bulk-load the CSV dump with
    COPY, all in one transaction, so a rerun replaces the data atomically. Returns the rows
    loaded per table."""
    erp_dir = Path(erp_dir)
    paths = {table: erp_dir / f"{table}.csv" for table in TABLES}
    for table, path in paths.items():
        _check_header(path, [name for name, _ in TABLES[table]])
    counts: dict[str, int] = {}
    with psycopg.connect(conninfo) as conn, conn.cursor() as cur:
        cur.execute("SET client_encoding TO 'UTF8'")
        for statement in _create_tables():
            cur.execute(statement)
        for table, path in paths.items():
            columns = sql.SQL(", ").join(sql.Identifier(name) for name, _ in TABLES[table])
            copy_sql = sql.SQL("COPY erp.{} ({}) FROM STDIN WITH (FORMAT csv, HEADER true)"
                               ).format(sql.Identifier(table), columns)
            with path.open("rb") as f, cur.copy(copy_sql) as copy:
                while chunk := f.read(CHUNK_BYTES):
                    copy.write(chunk)
            counts[table] = cur.rowcount
        for statement in _add_keys():
            cur.execute(statement)
    return counts
