"""Who may read what in the warehouse: the project's group roles, their grants, and logins.

Three NOLOGIN group roles carry the privileges; people and tools log in as LOGIN roles that are
members of one of them (``create_login``), so a person's access is one membership to revoke.
Personal columns are declared once, in the marts' dbt YAML (``config: meta: {pii: true}``), and
read here from dbt's manifest. BI reads only schema ``bi``: one view per published mart with its
other documented columns, so every relation BI can see answers ``select *`` (BI tools preview
tables that way; column grants would make them look broken). Publishing recreates the tables of
``marts``, so the views and grants are re-made at every publish.
"""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from psycopg import sql

from onetoone.foundation.config import (
    AUDIT_SCHEMA,
    BI_SCHEMA,
    PROJECT_SCHEMAS,
    PUBLISHED_SCHEMA,
)
from onetoone.runtime.dbt import MartColumns, mart_columns

log = logging.getLogger(__name__)

ENGINEER = "onetoone_engineer"
BI = "onetoone_bi"
AUDITOR = "onetoone_auditor"
GROUP_ROLES = {"engineer": ENGINEER, "bi": BI, "auditor": AUDITOR}
# A mart tagged so in dbt holds quality results: auditors read its non-personal columns too.
QUALITY_TAG = "quality"


def schema_grants(name: str) -> list[str]:
    """The statements that give schema ``name`` its designed privileges (placeholders
    ``{schema}``, ``{engineer}``, ``{bi}``, ``{auditor}``)."""
    statements = [
        "create schema if not exists {schema}",
        "grant all on schema {schema} to {engineer}",
        "grant all on all tables in schema {schema} to {engineer}",
        "grant all on all sequences in schema {schema} to {engineer}",
        "alter default privileges in schema {schema} grant all on tables to {engineer}",
        "alter default privileges in schema {schema} grant all on sequences to {engineer}",
    ]
    if name == PUBLISHED_SCHEMA:
        # The auditor's column grants on quality marts follow at publish (grant_published_marts).
        statements += ["revoke all on schema {schema} from {bi}",
                       "grant usage on schema {schema} to {auditor}"]
    elif name == BI_SCHEMA:
        # Its views and their grants follow at publish (grant_published_marts).
        statements += ["grant usage on schema {schema} to {bi}",
                       "revoke all on schema {schema} from {auditor}"]
    elif name == AUDIT_SCHEMA:
        statements += [
            "revoke all on schema {schema} from {bi}",
            "grant usage on schema {schema} to {auditor}",
            "revoke all on all tables in schema {schema} from {bi}, {auditor}",
            "grant select on all tables in schema {schema} to {auditor}",
            "alter default privileges in schema {schema} grant select on tables to {auditor}",
        ]
    else:
        statements += ["revoke all on schema {schema} from {bi}, {auditor}"]
    return statements


def bi_columns(tables: dict[str, list[str]],
               marts: dict[str, MartColumns]) -> dict[str, list[str]]:
    """Per published table (its columns in table order), the columns BI may read: the
    documented, non-personal ones. Fails closed: a table the manifest does not know, and an
    undocumented column, get nothing; a table with nothing readable is left out."""
    readable_by_table = {}
    for table, columns in tables.items():
        spec = marts.get(table)
        if spec is None:
            log.warning("%s.%s is not in the dbt manifest: BI gets no view of it",
                        PUBLISHED_SCHEMA, table)
            continue
        undocumented = [c for c in columns if c not in spec.documented]
        if undocumented:
            log.warning("%s.%s: columns not documented in the dbt YAML are withheld from BI: %s",
                        PUBLISHED_SCHEMA, table, ", ".join(undocumented))
        readable = [c for c in columns if c in spec.readable]
        if readable:
            readable_by_table[table] = readable
    return readable_by_table


def check_login(name: str, role: str, password: str) -> None:
    """Refuse a login that is not one person's or tool's, in one project group role."""
    if role not in GROUP_ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(GROUP_ROLES)}")
    if name in GROUP_ROLES.values() or name == "postgres" or name.startswith("pg_"):
        raise ValueError(f"{name!r} is reserved; choose a personal or tool login name")
    if not password:
        raise ValueError("a login needs a non-empty password")


# pragma: no mutate start
# From here on the functions run statements on PostgreSQL: only tests/integration/test_access.py
# reaches them, and `make mutate` runs unit tests only (see README, Mutation testing). What they
# decide is in the pure functions above, which the unit tests pin.
def ensure_roles(conn: psycopg.Connection) -> None:
    """Create the group roles and (re)apply their schema-level grants; idempotent.

    Default privileges cover tables that the current user creates later (the pipeline's user:
    run this as that user). Grants found on other schemas are revoked: the design is the truth."""
    # Role creation is cluster-wide; parallel tasks must not race on it. Held until the
    # caller's transaction ends.
    conn.execute("select pg_advisory_xact_lock(hashtext('onetoone.access.roles'))")
    existing = {r[0] for r in conn.execute(
        "select rolname from pg_roles where rolname = any(%s)",
        (list(GROUP_ROLES.values()),))}
    for role in GROUP_ROLES.values():
        if role not in existing:
            conn.execute(sql.SQL("create role {} nologin").format(sql.Identifier(role)))
    for schema in PROJECT_SCHEMAS:
        _grant_schema(conn, schema)


def _grant_schema(conn: psycopg.Connection, name: str) -> None:
    schema = sql.Identifier(name)
    engineer, bi, auditor = (sql.Identifier(r) for r in (ENGINEER, BI, AUDITOR))
    for statement in schema_grants(name):
        conn.execute(sql.SQL(statement).format(
            schema=schema, engineer=engineer, bi=bi, auditor=auditor))


def grant_published_marts(conn: psycopg.Connection,
                          manifest_path: Path | None = None) -> dict[str, list[str]]:
    """(Re)create BI's views of the published marts, non-personal columns only; answer them.

    Fails closed: a table the manifest does not know, and an undocumented column, get no view
    or column. Auditors get column-level SELECT on the quality marts in ``marts``."""
    marts = mart_columns(manifest_path)
    drop_bi_views(conn)
    rows = conn.execute(
        """
        select c.relname, a.attname
          from pg_class c
          join pg_namespace n on n.oid = c.relnamespace
          join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
         where n.nspname = %s and c.relkind in ('r', 'p')
         order by c.relname, a.attnum
        """,
        (PUBLISHED_SCHEMA,),
    ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    for table in tables:
        conn.execute(sql.SQL("revoke all on {} from {}, {}").format(
            sql.Identifier(PUBLISHED_SCHEMA, table), sql.Identifier(BI), sql.Identifier(AUDITOR)))
    granted = bi_columns(tables, marts)
    for table, readable in granted.items():
        target = sql.Identifier(PUBLISHED_SCHEMA, table)
        column_list = sql.SQL(", ").join(map(sql.Identifier, readable))
        view = sql.Identifier(BI_SCHEMA, table)
        conn.execute(sql.SQL("create view {} as select {} from {}").format(
            view, column_list, target))
        _comment_view(conn, table, readable, marts[table].primary_key)
        conn.execute(sql.SQL("grant select on {} to {}").format(view, sql.Identifier(BI)))
        if QUALITY_TAG in marts[table].tags:
            conn.execute(sql.SQL("grant select ({}) on {} to {}").format(
                column_list, target, sql.Identifier(AUDITOR)))
    return granted


def relation_comments(conn: psycopg.Connection, schema: str, name: str
                      ) -> list[tuple[str | None, str]]:
    """The comments on a table or view and its columns: (column, description) pairs, column
    None for the relation's own."""
    return conn.execute(
        """
        select a.attname, d.description
          from pg_description d
          left join pg_attribute a on a.attrelid = d.objoid and a.attnum = d.objsubid
         where d.classoid = 'pg_class'::regclass
           and d.objoid = format('%%I.%%I', %s::text, %s::text)::regclass
        """,
        (schema, name),
    ).fetchall()


def _comment_view(conn: psycopg.Connection, table: str, readable: list[str],
                  primary_key: tuple[str, ...]) -> None:
    """Give BI's view the published table's description and its columns' (dbt's docs, which
    BI tools show): a view does not inherit its table's comments. A view has no constraints
    either, so its description ends with the table's primary key."""
    rows = relation_comments(conn, PUBLISHED_SCHEMA, table)
    view = sql.Identifier(BI_SCHEMA, table)
    described = [description for column, description in rows if column is None]
    if primary_key:
        described.append(f"Primary key: {', '.join(primary_key)}.")
    if described:
        conn.execute(sql.SQL("comment on view {} is {}").format(
            view, sql.Literal(" ".join(described))))
    for column, description in rows:
        if column is not None and column in readable:
            conn.execute(sql.SQL("comment on column {}.{} is {}").format(
                view, sql.Identifier(column), sql.Literal(description)))


def drop_bi_views(conn: psycopg.Connection) -> None:
    """Drop BI's views, which depend on the published tables that publish replaces."""
    views = conn.execute(
        "select table_name from information_schema.views where table_schema = %s",
        (BI_SCHEMA,)).fetchall()
    for (view,) in views:
        conn.execute(sql.SQL("drop view {}").format(sql.Identifier(BI_SCHEMA, view)))


def create_login(conn: psycopg.Connection, name: str, role: str, password: str) -> None:
    """Create or update a LOGIN role that is a member of exactly one project group role.

    The password is hashed (SCRAM) by the client, so it never appears in SQL text or logs."""
    check_login(name, role, password)
    verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    login = sql.Identifier(name)
    exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
    conn.execute(sql.SQL("{} role {} login password {}").format(
        sql.SQL("alter" if exists else "create"), login, sql.Literal(verifier.decode())))
    for group in GROUP_ROLES.values():
        conn.execute(sql.SQL("{} {} {} {}").format(
            sql.SQL("grant" if group == GROUP_ROLES[role] else "revoke"),
            sql.Identifier(group), sql.SQL("to" if group == GROUP_ROLES[role] else "from"),
            login))


def setup(conn: psycopg.Connection, manifest_path: Path | None = None) -> dict[str, list[str]]:
    """Roles, schema grants and the BI grants on the published marts, in the caller's
    transaction."""
    ensure_roles(conn)
    return grant_published_marts(conn, manifest_path)
# pragma: no mutate end
