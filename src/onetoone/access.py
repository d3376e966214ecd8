"""Who may read what in the warehouse: the project's group roles, their grants, and logins.

Three NOLOGIN group roles carry the privileges; people and tools log in as LOGIN roles that are
members of one of them (``create_login``), so a person's access is one membership to revoke.
Personal columns are declared once, in the marts' dbt YAML (``config: meta: {pii: true}``), and
read here from dbt's manifest: BI gets column-level SELECT on every other documented column.
Publishing recreates the tables of ``marts``, so those grants are re-applied at every publish.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql

from onetoone import config, dbt_manifest
from onetoone.publish import BUILD_SCHEMA, PUBLISHED_SCHEMA

log = logging.getLogger(__name__)

ENGINEER = "onetoone_engineer"
BI = "onetoone_bi"
AUDITOR = "onetoone_auditor"
GROUP_ROLES = {"engineer": ENGINEER, "bi": BI, "auditor": AUDITOR}
PROJECT_SCHEMAS = ("raw", "staging", "intermediate", "identity", BUILD_SCHEMA, PUBLISHED_SCHEMA,
                   "audit", "snapshots", "seeds")
AUDIT_SCHEMA = "audit"
# A mart tagged so in dbt holds quality results: auditors read its non-personal columns too.
QUALITY_TAG = "quality"
NEW_LOGIN_PASSWORD_ENV = "ONETOONE_NEW_LOGIN_PASSWORD"


@dataclass(frozen=True)
class MartColumns:
    """What dbt's manifest says about one mart: its documented columns and the personal ones."""

    documented: frozenset[str]
    personal: frozenset[str]
    tags: frozenset[str]

    @property
    def readable(self) -> frozenset[str]:
        return self.documented - self.personal


def manifest_file(manifest_path: Path | None = None) -> Path:
    return manifest_path or dbt_manifest.manifest_path()


def mart_columns(manifest_path: Path | None = None) -> dict[str, MartColumns]:
    """Per mart table name, its columns as declared in the dbt YAML (``meta.pii`` = personal).

    The state folder's manifest re-parses itself when missing or half-written; a manifest given
    by path is only read. An empty answer (no such manifest) makes every caller fail closed."""
    path = manifest_file(manifest_path)
    if path.resolve() != dbt_manifest.manifest_path().resolve() and not path.exists():
        log.warning("no dbt manifest at %s (run `onetoone dbt parse`): no mart's columns "
                    "are known", path)
        return {}
    nodes = dbt_manifest.read_manifest(path)["nodes"]
    marts = {}
    for node in nodes.values():
        if node.get("resource_type") != "model" or node.get("schema") != BUILD_SCHEMA:
            continue
        columns = node.get("columns", {})
        marts[node.get("alias") or node["name"]] = MartColumns(
            documented=frozenset(name.lower() for name in columns),
            personal=frozenset(name.lower() for name, column in columns.items()
                               if _column_meta(column).get("pii") is True),
            tags=frozenset(node.get("tags", [])),
        )
    return marts


def _column_meta(column: dict) -> dict:
    # dbt 1.10+ keeps a column's meta under config (and mirrors it at the top level).
    return {**column.get("meta", {}), **column.get("config", {}).get("meta", {})}


def ensure_roles(conn: psycopg.Connection) -> None:
    """Create the group roles and (re)apply their schema-level grants; idempotent.

    Default privileges cover tables that the current user creates later (the pipeline's user:
    run this as that user). Grants found on other schemas are revoked: the design is the truth."""
    with conn.transaction():
        # Role creation is cluster-wide; parallel tasks must not race on it.
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
    statements = [
        "create schema if not exists {schema}",
        "grant all on schema {schema} to {engineer}",
        "grant all on all tables in schema {schema} to {engineer}",
        "grant all on all sequences in schema {schema} to {engineer}",
        "alter default privileges in schema {schema} grant all on tables to {engineer}",
        "alter default privileges in schema {schema} grant all on sequences to {engineer}",
    ]
    if name == PUBLISHED_SCHEMA:
        # Table and column grants follow at publish (grant_published_marts).
        statements += ["grant usage on schema {schema} to {bi}, {auditor}"]
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
    for statement in statements:
        conn.execute(sql.SQL(statement).format(
            schema=schema, engineer=engineer, bi=bi, auditor=auditor))


def grant_published_marts(conn: psycopg.Connection,
                          manifest_path: Path | None = None) -> dict[str, list[str]]:
    """Give BI SELECT on the non-personal columns of every table in ``marts``; answer them.

    Fails closed: a table the manifest does not know, and an undocumented column, get no grant.
    Table-level SELECT is revoked first, since it would cover the personal columns too."""
    marts = mart_columns(manifest_path)
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
    granted = {}
    for table, columns in tables.items():
        target = sql.Identifier(PUBLISHED_SCHEMA, table)
        conn.execute(sql.SQL("revoke all on {} from {}, {}").format(
            target, sql.Identifier(BI), sql.Identifier(AUDITOR)))
        spec = marts.get(table)
        if spec is None:
            log.warning("%s.%s is not in the dbt manifest: BI gets no access to it",
                        PUBLISHED_SCHEMA, table)
            continue
        undocumented = [c for c in columns if c not in spec.documented]
        if undocumented:
            log.warning("%s.%s: columns not documented in the dbt YAML are withheld from BI: %s",
                        PUBLISHED_SCHEMA, table, ", ".join(undocumented))
        readable = [c for c in columns if c in spec.readable]
        granted[table] = readable
        if not readable:
            continue
        readers = [BI, AUDITOR] if QUALITY_TAG in spec.tags else [BI]
        conn.execute(sql.SQL("grant select ({}) on {} to {}").format(
            sql.SQL(", ").join(map(sql.Identifier, readable)), target,
            sql.SQL(", ").join(map(sql.Identifier, readers))))
    return granted


def create_login(conn: psycopg.Connection, name: str, role: str, password: str) -> None:
    """Create or update a LOGIN role that is a member of exactly one project group role.

    The password is hashed (SCRAM) by the client, so it never appears in SQL text or logs."""
    if role not in GROUP_ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(GROUP_ROLES)}")
    if name in GROUP_ROLES.values() or name == "postgres" or name.startswith("pg_"):
        raise ValueError(f"{name!r} is reserved; choose a personal or tool login name")
    if not password:
        raise ValueError("a login needs a non-empty password")
    verifier = conn.pgconn.encrypt_password(password.encode(), name.encode(), b"scram-sha-256")
    login = sql.Identifier(name)
    with conn.transaction():
        exists = conn.execute("select 1 from pg_roles where rolname = %s", (name,)).fetchone()
        conn.execute(sql.SQL("{} role {} login password {}").format(
            sql.SQL("alter" if exists else "create"), login, sql.Literal(verifier.decode())))
        for group in GROUP_ROLES.values():
            conn.execute(sql.SQL("{} {} {} {}").format(
                sql.SQL("grant" if group == GROUP_ROLES[role] else "revoke"),
                sql.Identifier(group), sql.SQL("to" if group == GROUP_ROLES[role] else "from"),
                login))


def setup(conninfo: str, manifest_path: Path | None = None) -> dict[str, list[str]]:
    """Roles, schema grants and the BI grants on the published marts, in one transaction."""
    with psycopg.connect(conninfo) as conn, conn.transaction():
        ensure_roles(conn)
        return grant_published_marts(conn, manifest_path)


def _connect_url() -> str:
    if config.uses_embedded_warehouse():
        from onetoone import warehouse

        warehouse.start()
    return config.warehouse_url()


def _cmd_setup(args: argparse.Namespace) -> int:
    granted = setup(_connect_url(), args.manifest)
    print(f"roles: {', '.join(GROUP_ROLES.values())}")
    for table, columns in sorted(granted.items()):
        print(f"  BI reads {PUBLISHED_SCHEMA}.{table}: {len(columns)} columns")
    return 0


def _cmd_grant_login(args: argparse.Namespace) -> int:
    password = os.environ.get(NEW_LOGIN_PASSWORD_ENV)
    if not password:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            print("the passwords differ; nothing changed")
            return 1
    with psycopg.connect(_connect_url()) as conn:
        ensure_roles(conn)
        create_login(conn, args.name, args.role, password)
    print(f"login {args.name} is a member of {GROUP_ROLES[args.role]}")
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `onetoone access setup` and `onetoone access grant-login NAME --role ROLE`."""
    access = subparsers.add_parser("access", help="roles, grants and logins of the warehouse")
    actions = access.add_subparsers(dest="action", required=True)
    setup_cmd = actions.add_parser("setup", help="create the roles and apply every grant")
    setup_cmd.add_argument("--manifest", type=Path, default=None,
                           help="dbt manifest declaring the personal columns "
                                "(default: the state folder's dbt target)")
    setup_cmd.set_defaults(func=_cmd_setup)
    login = actions.add_parser(
        "grant-login",
        help=f"create or update a login in a role; the password comes from "
             f"${NEW_LOGIN_PASSWORD_ENV} or a prompt, never from the command line")
    login.add_argument("name")
    login.add_argument("--role", choices=tuple(GROUP_ROLES), required=True)
    login.set_defaults(func=_cmd_grant_login)
