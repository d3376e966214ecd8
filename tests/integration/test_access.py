"""Roles on the real embedded PostgreSQL: log in as a BI, an auditor and an engineer login (SCRAM
over the socket) and prove what each can and cannot read, also after a re-publish.

Works in its own database, with small tables and a small dbt manifest of its own."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from onetoone.foundation.config import embedded_url
from onetoone.operations.migrate import migrate
from onetoone.runtime import dbt
from onetoone.stages.serving import access, publish

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_access_test"
PASSWORDS = {role: secrets.token_urlsafe(16) for role in access.GROUP_ROLES}
MARTS = {
    "dim_customers": {"customer_key": False, "first_name": True, "email": True,
                      "country": False},
    "fct_orders": {"order_id": False, "customer_key": False, "net_revenue": False},
    "mart_quality_scores": {"layer": False, "score": False},
}
BUILD_DDL = """
drop schema if exists marts_build cascade;
create schema if not exists marts_build;
create table marts_build.dim_customers (
    customer_key text, first_name text, email text, country text, undocumented text);
create table marts_build.fct_orders (order_id text, customer_key text, net_revenue numeric);
create table marts_build.mart_quality_scores (layer text, score numeric);
create table marts_build.not_in_manifest (customer_key text);
insert into marts_build.dim_customers values ('K1', 'Ana', 'ana@example.com', 'BR', 'x');
insert into marts_build.fct_orders values ('O1', 'K1', 10);
insert into marts_build.mart_quality_scores values ('raw', 0.99);
insert into marts_build.not_in_manifest values ('K1');
comment on table marts_build.fct_orders is 'One row per order.';
comment on column marts_build.fct_orders.net_revenue is 'Revenue after discounts.';
"""


def write_manifest(path: Path, marts: dict[str, dict[str, bool]],
                   tags: dict[str, list[str]]) -> Path:
    """The part of a dbt manifest that access.py reads, in dbt 1.11's layout."""
    nodes = {
        f"model.onetoone.{name}": {
            "resource_type": "model", "name": name, "alias": name, "schema": "marts_build",
            "tags": tags.get(name, []),
            "constraints": [{"type": "primary_key", "columns": [next(iter(columns))]}],
            "columns": {column: {"name": column, "meta": {"pii": True} if pii else {},
                                 "config": {"meta": {"pii": True} if pii else {}}}
                        for column, pii in columns.items()},
        }
        for name, columns in marts.items()
    }
    path.write_text(json.dumps({"nodes": nodes}))
    return path


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    return write_manifest(tmp_path_factory.mktemp("dbt") / "manifest.json", MARTS,
                          {"mart_quality_scores": [access.QUALITY_TAG]})


@pytest.fixture(scope="module")
def db_url(warehouse, manifest: Path) -> Iterator[str]:
    """A database with raw, identity, audit and published marts; roles, grants and logins."""
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')
        admin.execute(f'create database "{TEST_DB}"')
    url = embedded_url(TEST_DB)
    with psycopg.connect(url) as conn:
        migrate(conn)
        conn.execute("insert into identity.customer_keys values"
                     " ('erp', 'C1', 'K1', 1, 'm1', now())")
        conn.execute(BUILD_DDL)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dbt, "manifest_file", lambda path=None: path or manifest)
        with psycopg.connect(url) as conn:
            publish.publish_marts(conn)
    with psycopg.connect(url) as conn:
        for role, password in PASSWORDS.items():
            access.create_login(conn, f"test_{role}_login", role, password)
    yield url
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')


def login(url: str, role: str) -> psycopg.Connection:
    return psycopg.connect(url, user=f"test_{role}_login", password=PASSWORDS[role],
                           autocommit=True)


def can(conn: psycopg.Connection, query: str) -> bool:
    try:
        conn.execute(query)
    except psycopg.errors.InsufficientPrivilege:
        return False
    return True


def bi_visible_relations(bi: psycopg.Connection) -> list[str]:
    """Every relation outside the system catalogs on which the login holds any SELECT, table- or
    column-level: what a BI tool lists."""
    rows = bi.execute(
        """
        select format('%I.%I', n.nspname, c.relname)
          from pg_class c join pg_namespace n on n.oid = c.relnamespace
         where c.relkind in ('r', 'p', 'v', 'm', 'f')
           and n.nspname not in ('pg_catalog', 'information_schema')
           and n.nspname not like 'pg\\_%%'
           and has_schema_privilege(n.oid, 'usage')
           and (has_table_privilege(c.oid, 'select')
                or has_any_column_privilege(c.oid, 'select'))
         order by 1
        """).fetchall()
    return [r[0] for r in rows]


def test_every_relation_bi_sees_answers_select_star_without_personal_columns(db_url, manifest):
    personal = {column for columns in MARTS.values()
                for column, pii in columns.items() if pii}
    with login(db_url, "bi") as bi:
        visible = bi_visible_relations(bi)
        assert visible == ["bi.dim_customers", "bi.fct_orders", "bi.mart_quality_scores"]
        for relation in visible:
            cursor = bi.execute(f"select * from {relation}")
            columns = {d.name for d in cursor.description}
            assert columns and not columns & personal, relation
        assert bi.execute("select * from bi.dim_customers").fetchall() == [("K1", "BR")]


def test_bi_reads_the_non_personal_columns_of_marts_and_nothing_else(db_url):
    with login(db_url, "bi") as bi:
        assert bi.execute("select customer_key, country from bi.dim_customers").fetchall() \
            == [("K1", "BR")]
        assert can(bi, "select order_id, customer_key, net_revenue from bi.fct_orders")
        for denied in (
            "select customer_key from marts.dim_customers",
            "select * from marts.fct_orders",
            "select customer_key from marts_build.dim_customers",
            "select * from raw.erp_customers",
            "select * from identity.customer_keys",
            "select * from audit.validation_runs",
            "insert into bi.fct_orders (order_id) values ('O2')",
        ):
            assert not can(bi, denied), denied
        for missing in ("select email from bi.dim_customers",
                        "select undocumented from bi.dim_customers",  # not in the YAML
                        "select * from bi.not_in_manifest"):  # fail closed
            with pytest.raises((psycopg.errors.UndefinedColumn, psycopg.errors.UndefinedTable)):
                bi.execute(missing)


def test_auditor_reads_audit_and_quality_marts_read_only(db_url):
    with login(db_url, "auditor") as auditor:
        assert can(auditor, "select * from audit.expectation_results")
        assert can(auditor, "select layer, score from marts.mart_quality_scores")
        for denied in (
            "insert into audit.validation_runs (run_id) values ('forged')",
            "delete from audit.expectation_results",
            "select * from raw.erp_customers",
            "select * from identity.customer_keys",
            "select email from marts.dim_customers",
            "select customer_key from marts.dim_customers",
            "select customer_key from marts_build.dim_customers",
        ):
            assert not can(auditor, denied), denied


def test_engineer_reads_and_writes_everything_including_tables_created_later(db_url):
    with psycopg.connect(db_url, autocommit=True) as owner:
        owner.execute("create table if not exists raw.created_after_setup (x int)")
    with login(db_url, "engineer") as engineer:
        assert engineer.execute("select email from marts.dim_customers").fetchone() \
            == ("ana@example.com",)
        for allowed in (
            "select * from raw.erp_customers",
            "select * from identity.customer_keys",
            "select * from marts_build.dim_customers",
            "select * from marts.not_in_manifest",
            "select * from audit.expectation_results",
            # value is a project schema too (the roles' list once missed it)
            "select * from value.customer_strategic_values",
            "select * from value.model_runs",
            "insert into raw.created_after_setup values (1)",
            "update marts_build.dim_customers set country = 'PT'",
            "insert into audit.validation_runs (run_id, layer, suite, data_asset, as_of,"
            " started_at, success, evaluated, successful, unsuccessful, critical_failed,"
            " warning_failed) values ('r', 'l', 's', 't', now(), now(), true, 0, 0, 0, 0, 0)",
        ):
            assert can(engineer, allowed), allowed


def test_grants_hold_after_a_republish(db_url, manifest, monkeypatch):
    with psycopg.connect(db_url) as conn:
        conn.execute("insert into marts_build.dim_customers values"
                     " ('K2', 'Bia', 'bia@example.com', 'PT', 'y')")
    monkeypatch.setattr(dbt, "manifest_file", lambda path=None: path or manifest)
    with psycopg.connect(db_url) as conn:
        publish.publish_marts(conn)
    with login(db_url, "bi") as bi:
        rows = bi.execute("select * from bi.dim_customers order by 1").fetchall()
        assert [row[0] for row in rows] == ["K1", "K2"]
    with login(db_url, "auditor") as auditor:
        assert can(auditor, "select layer, score from marts.mart_quality_scores")


def test_published_marts_keep_dbts_comments_and_primary_keys(db_url):
    with psycopg.connect(db_url) as conn:
        comments = dict(conn.execute(
            """select coalesce(a.attname, '<table>'), d.description
                 from pg_description d
                 left join pg_attribute a on a.attrelid = d.objoid and a.attnum = d.objsubid
                where d.objoid = 'marts.fct_orders'::regclass""").fetchall())
        keys = dict(conn.execute(
            """select conrelid::regclass::text, pg_get_constraintdef(oid) from pg_constraint
                where contype = 'p' and connamespace = 'marts'::regnamespace""").fetchall())
    assert comments == {"<table>": "One row per order.", "net_revenue": "Revenue after discounts."}
    assert keys == {"marts.dim_customers": "PRIMARY KEY (customer_key)",
                    "marts.fct_orders": "PRIMARY KEY (order_id)",
                    "marts.mart_quality_scores": "PRIMARY KEY (layer)"}


def test_logins_need_their_password_and_group_roles_cannot_log_in(db_url):
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(db_url, user="test_bi_login", password="wrong")
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(db_url, user=access.BI, password="anything")
    with psycopg.connect(db_url) as conn, pytest.raises(ValueError, match="reserved"):
        access.create_login(conn, access.ENGINEER, "engineer", "secret")


def test_a_login_changes_role_when_granted_another(db_url):
    with psycopg.connect(db_url) as conn:
        access.create_login(conn, "test_moving_login", "engineer", PASSWORDS["bi"])
        access.create_login(conn, "test_moving_login", "bi", PASSWORDS["bi"])
    with psycopg.connect(db_url, user="test_moving_login", password=PASSWORDS["bi"],
                         autocommit=True) as moved:
        assert not can(moved, "select * from raw.erp_customers")
        assert can(moved, "select * from bi.dim_customers")


def test_the_dbt_yaml_declares_the_personal_columns_of_dim_customers(dbt_manifest):
    marts = dbt.mart_columns(dbt_manifest)
    assert marts["dim_customers"].personal == {
        "first_name", "last_name", "full_name", "birth_date", "email", "phone", "address_line",
        "postcode", "national_id"}
    assert {"customer_key", "country", "city"} <= marts["dim_customers"].readable
    assert not marts["fct_orders"].personal
    assert marts["dim_customers"].primary_key == ("customer_key",)
    assert marts["fct_orders"].primary_key == ("order_id",)
