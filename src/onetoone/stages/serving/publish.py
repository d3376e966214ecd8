"""Write-audit-publish: dbt builds marts in `marts_build`, quality checks read them there, and
only then are they copied into `marts`, in one transaction, with BI's views of them in `bi`.

Readers of `marts` see either the previous good version or the new one, never a mix or a
half-built table: the swap holds its locks until commit, and a failure rolls everything back.
`marts_build` stays as dbt left it, so dbt snapshots and docs keep working against it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import psycopg
from psycopg import sql

from onetoone.foundation.config import BUILD_SCHEMA, PUBLISHED_SCHEMA
from onetoone.runtime.dbt import MartColumns, mart_columns
from onetoone.stages.serving import access

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublishedTable:
    name: str
    rows: int


def build_tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        """
        select table_name from information_schema.tables
         where table_schema = %s and table_type = 'BASE TABLE'
           and table_name not like '%%\\_\\_dbt\\_%%'
         order by table_name
        """,
        (BUILD_SCHEMA,),
    ).fetchall()
    return [r[0] for r in rows]


def publish_marts(conn: psycopg.Connection) -> list[PublishedTable]:
    """Replace every published mart by its checked build, atomically: call it in a transaction
    (readers keep the previous version until it commits)."""
    tables = build_tables(conn)
    if not tables:
        raise RuntimeError(f"nothing to publish: schema {BUILD_SCHEMA} has no tables")
    conn.execute(sql.SQL("create schema if not exists {}").format(
        sql.Identifier(PUBLISHED_SCHEMA)))
    access.drop_bi_views(conn)
    marts = mart_columns()
    published = []
    for name in tables:
        target = sql.Identifier(PUBLISHED_SCHEMA, name)
        conn.execute(sql.SQL("drop table if exists {}").format(target))
        conn.execute(sql.SQL("create table {} as table {}").format(
            target, sql.Identifier(BUILD_SCHEMA, name)))
        _copy_comments(conn, name)
        spec = marts.get(name)
        if spec is not None:
            _create_keys(conn, target, spec)
        rows = conn.execute(sql.SQL("select count(*) from {}").format(target)).fetchone()[0]
        published.append(PublishedTable(name, rows))
    _drop_retired(conn, tables)
    _grant_readers(conn)
    for table in published:
        log.info("published %s.%s (%d rows)", PUBLISHED_SCHEMA, table.name, table.rows)
    return published


def _columns(names: tuple[str, ...]) -> sql.Composable:
    return sql.SQL(", ").join(map(sql.Identifier, names))


def _create_keys(conn: psycopg.Connection, target: sql.Identifier, spec: MartColumns) -> None:
    """`create table as` copies rows only: give the published table the primary key (one
    column or several) and the indexes that the mart declares in its dbt YAML."""
    if spec.primary_key:
        conn.execute(sql.SQL("alter table {} add primary key ({})").format(
            target, _columns(spec.primary_key)))
    for index in spec.indexes:
        conn.execute(sql.SQL("create {}index on {}{} ({})").format(
            sql.SQL("unique " if index.unique else ""), target,
            sql.SQL(" using {}").format(sql.Identifier(index.method)) if index.method
            else sql.SQL(""),
            _columns(index.columns)))


def _copy_comments(conn: psycopg.Connection, name: str) -> None:
    """`create table as` drops the table and column comments that dbt's persist_docs wrote on
    the build; BI tools show them as descriptions."""
    rows = access.relation_comments(conn, BUILD_SCHEMA, name)
    target = sql.Identifier(PUBLISHED_SCHEMA, name)
    for column, description in rows:
        if column is None:
            conn.execute(sql.SQL("comment on table {} is {}").format(
                target, sql.Literal(description)))
        else:
            conn.execute(sql.SQL("comment on column {}.{} is {}").format(
                target, sql.Identifier(column), sql.Literal(description)))


def _drop_retired(conn: psycopg.Connection, current: list[str]) -> None:
    """A mart removed from the dbt project disappears from `marts` too."""
    rows = conn.execute(
        "select table_name from information_schema.tables where table_schema = %s",
        (PUBLISHED_SCHEMA,),
    ).fetchall()
    for (name,) in rows:
        if name not in current:
            conn.execute(sql.SQL("drop table {}").format(sql.Identifier(PUBLISHED_SCHEMA, name)))


def _grant_readers(conn: psycopg.Connection) -> None:
    """Re-make BI's views of the fresh tables (non-personal columns only) and the grants."""
    access.ensure_roles(conn)
    access.grant_published_marts(conn)
