"""dbt's views on the real PostgreSQL: rebuilding a view leaves the views built on it in place,
so a run stopped between two models (each is a task of its own; a kill, a failure) never
leaves the warehouse without them. dbt's own view materialization dropped them with CASCADE.

Works in a database of its own, migrated (the raw tables exist, empty)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fixture_database import drop_database, warehouse_url_set_to

from onetoone.foundation import config
from onetoone.operations.migrate import migrate_warehouse
from onetoone.runtime.dbt import run_dbt

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_dbt_views_test"
UPSTREAM = "stg_web__events"
# a view reading it (the enriched orders and lines that read stg_erp__orders are incremental
# tables now)
DEPENDENTS = ("int_web_accounts",)
VIEWS = (UPSTREAM, *DEPENDENTS)


@pytest.fixture(scope="module")
def db_url(warehouse) -> Iterator[str]:
    with psycopg.connect(config.embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')
        admin.execute(f'create database "{TEST_DB}"')
    url = config.embedded_url(TEST_DB)
    migrate_warehouse(url)
    try:
        with warehouse_url_set_to(url):
            yield url
    finally:
        drop_database(TEST_DB)


def dbt_run(*models: str) -> None:
    assert run_dbt(["run", "--quiet", "--no-use-colors", "--select", *models]) == 0


def existing_views(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute(
            "select table_name from information_schema.views"
            " where table_schema in ('staging', 'intermediate')")}


def test_rebuilding_a_view_keeps_the_views_built_on_it(db_url: str):
    dbt_run(*VIEWS)
    assert set(VIEWS) <= existing_views(db_url)
    with psycopg.connect(db_url) as conn:
        oids = {name: conn.execute("select %s::regclass::oid", (f"intermediate.{name}",))
                .fetchone()[0] for name in DEPENDENTS}

    # the run stops after the upstream view: its dependents' models do not run
    dbt_run(UPSTREAM)

    assert set(VIEWS) <= existing_views(db_url)
    with psycopg.connect(db_url) as conn:
        for name in DEPENDENTS:
            # the same view, untouched, and it still reads through the replaced one
            assert conn.execute("select %s::regclass::oid", (f"intermediate.{name}",)) \
                .fetchone()[0] == oids[name]
            conn.execute(f"select * from intermediate.{name} limit 1")


def test_a_view_whose_columns_changed_is_rebuilt_the_usual_way(db_url: str):
    """PostgreSQL cannot replace a view by one with other columns: dbt's own materialization
    takes over (the views on it then come back when their models run)."""
    with psycopg.connect(db_url) as conn:
        conn.execute(f"drop view if exists staging.{UPSTREAM} cascade")
        conn.execute(f"create view staging.{UPSTREAM} as select 1 as something_else")
    dbt_run(UPSTREAM)
    with psycopg.connect(db_url) as conn:
        columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns where table_schema = 'staging'"
            " and table_name = %s order by ordinal_position", (UPSTREAM,))]
    assert "something_else" not in columns and "event_id" in columns
