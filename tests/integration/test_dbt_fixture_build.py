"""dbt's own tests without the DAG: every model built, and every unit and data test run, on the
hand-made fixture (dbt_project/tests/fixtures/onetoone_fixture.sql) in a database of its own."""

from __future__ import annotations

import json

import pandas as pd
import psycopg
import pytest
from fixture_database import create_fixture_database, warehouse_url_set_to

from onetoone.foundation import config
from onetoone.runtime.dbt import mart_columns, run_dbt
from onetoone.stages.serving.publish import publish_marts
from onetoone.stages.value.store import events_summary, read_events

FIXTURE_DB = "onetoone_dbt_fixture"


@pytest.fixture(scope="module")
def fixture_warehouse(warehouse) -> str:
    """A database loaded with the fixture over the stages' DDL (the warehouse's own migrate)."""
    return create_fixture_database(FIXTURE_DB)


@pytest.fixture(scope="module")
def fixture_build(fixture_warehouse: str) -> list[dict]:
    """`dbt build` of the whole project on the fixture; dbt's run results, one per node."""
    with warehouse_url_set_to(fixture_warehouse):
        returncode = run_dbt(["build", "--quiet", "--no-use-colors"])
    results = json.loads((config.paths().dbt_target / "run_results.json").read_text())["results"]
    # Exposures (the marts' consumers) are part of the graph but build nothing: "no-op".
    failed = [(r["unique_id"], r["status"], r.get("message")) for r in results
              if r["status"] not in ("success", "pass")
              and not (r["unique_id"].startswith("exposure.") and r["status"] == "no-op")]
    assert returncode == 0 and not failed, failed
    return results


def test_every_dbt_unit_test_runs_and_passes(fixture_build: list[dict]) -> None:
    unit_tests = {r["unique_id"]: r["status"] for r in fixture_build
                  if r["unique_id"].startswith("unit_test.")}
    # The unit tests the models' YAML declares (name split, value tiers, portfolios).
    assert len(unit_tests) >= 3
    assert set(unit_tests.values()) == {"pass"}, unit_tests
    names = {uid.rsplit(".", 1)[-1] for uid in unit_tests}
    assert {"test_mart_customer_value_tiers",
            "test_mart_portfolios_books_and_pooled_overflow",
            "test_mart_quality_summary_no_data_is_not_a_pass",
            "test_mart_quality_summary_counts_dbt_tests_per_run",
            "test_mart_segment_value_per_segment_and_tier",
            "test_mart_customer_value_history_changes_between_versions",
            "test_mart_portfolios_manager_minimum",
            "test_mart_customer_offer_modules_assembles_with_reasons",
            "test_int_customer_households_group_by_standardised_address",
            "test_int_customer_events_kinds_sessions_and_as_of",
            "test_dim_households_members_value_and_best_tier"} <= names


def test_every_data_test_runs_on_fixture_rows_and_passes(fixture_build: list[dict]) -> None:
    data_tests = {r["unique_id"]: r["status"] for r in fixture_build
                  if r["unique_id"].startswith("test.")}
    models = [r for r in fixture_build if r["unique_id"].startswith("model.")]
    assert len(data_tests) > 100 and models
    assert set(data_tests.values()) == {"pass"}, {k: v for k, v in data_tests.items()
                                                  if v != "pass"}
    # The singular tests (capacity, one manager per portfolio, keys for every record) ran too.
    assert any(uid.startswith("test.onetoone.assert_account_managers_within_capacity")
               for uid in data_tests)
    for singular in ("assert_segment_value_reconciles_with_customer_value",
                     "assert_named_managers_hold_the_minimum",
                     "assert_value_history_matches_tier_migrations"):
        assert any(uid.startswith(f"test.onetoone.{singular}") for uid in data_tests), singular



def test_marketer_marts_are_built_from_the_fixture_customers(fixture_build: list[dict],
                                                             fixture_warehouse: str) -> None:
    """The segment, history and offer marts hold the fixture's customers, not empty tables on
    which their data tests would pass trivially."""
    with psycopg.connect(fixture_warehouse) as conn:
        def one(query: str) -> tuple:
            return conn.execute(query).fetchone()

        customers = one("select count(*) from marts_build.mart_customer_value")[0]
        assert customers > 0
        assert one("select sum(customers) from marts_build.mart_segment_value")[0] == customers
        # One snapshot run on the fixture: one version per customer, each a move from `new`.
        assert one("select count(*), count(distinct customer_key), bool_and(is_tier_change),"
                   " count(previous_as_of_date) from marts_build.mart_customer_value_history"
                   ) == (customers, customers, True, 0)
        # Every customer gets one row per module type, a service level and (the fallbacks of
        # the shipped seed) a base product and a payment plan.
        assert one("select count(*), count(distinct customer_key) from"
                   " marts_build.mart_customer_offer_modules") == (4 * customers, customers)
        assert one("select count(*) from marts_build.mart_customer_offer_modules"
                   " where module_type in ('base_product', 'service_level', 'payment_plan')"
                   " and module_id is null")[0] == 0
        assert one("select count(*) from marts_build.mart_portfolios"
                   " where (pooled_reason is null) <> (coverage = 'key_account')")[0] == 0


def test_customer_events_are_keyed_and_read_as_the_value_step_reads_them(
        fixture_warehouse: str, fixture_build: list[dict]) -> None:
    """int_customer_events holds the fixture's calls, complaints, web sessions and returned or
    cancelled orders before as_of (2025-06-21: Felipe's call of 06-25 is not there), keyed by
    customer, and nothing personal; the value step's reader hands them to the model as
    customer_id, event_date, event and counts them for value.model_runs."""
    with psycopg.connect(fixture_warehouse) as conn:
        columns = [row[0] for row in conn.execute(
            "select column_name from information_schema.columns where table_schema ="
            " 'intermediate' and table_name = 'int_customer_events' order by ordinal_position")]
        bruno = conn.execute("select event_id, event_date::text, event"
                             " from intermediate.int_customer_events"
                             " where customer_key = 'K02' order by event_id").fetchall()
        events = read_events(conn)
    assert columns == ["event_id", "customer_key", "event_date", "event", "source"]
    # two calls, the escalated complaint, the order completed and then returned
    assert bruno == [("callcenter:CL002", "2025-04-03", "call"),
                     ("callcenter:CL003", "2025-04-05", "complaint_unresolved"),
                     ("callcenter:CL007", "2025-05-20", "call"),
                     ("erp:O005", "2025-06-03", "order_returned")]
    assert list(events.columns) == ["customer_id", "event_date", "event"]
    assert events["event_date"].max() < pd.Timestamp("2025-06-21")
    # 21 sessions of the six web accounts (anonymous ones have no customer)
    assert events_summary(events) == {
        "rows": 36, "customers": 11,
        "kinds": {"call": 8, "complaint_unresolved": 3, "order_cancelled": 1,
                  "order_returned": 3, "web_visit": 21}}


def test_households_group_the_customers_at_one_standardised_address(
        fixture_warehouse: str, fixture_build: list[dict]) -> None:
    """The fixture's C005 (K07) lives at C001's (K01) address, written differently: one
    household of two without a surname in common; every other ERP customer is a household of
    one, and customers known only to the web or the call center (no address) have none."""
    with psycopg.connect(fixture_warehouse) as conn:
        keys = dict(conn.execute(
            "select customer_key, household_key from marts_build.dim_customers").fetchall())
        shared = keys["K01"]
        assert shared is not None and keys["K07"] == shared
        assert keys["K05"] is None and keys["K06"] is None
        others = [keys[k] for k in keys if k not in ("K01", "K07", "K05", "K06")]
        assert None not in others and len(set(others)) == len(others) and shared not in others
        household = conn.execute(
            "select members, city, country, members_sharing_surname, household_actual_value,"
            " household_strategic_value from marts_build.dim_households where household_key = %s",
            (shared,)).fetchone()
        value = conn.execute(
            "select sum(actual_value), sum(strategic_value) from marts_build.mart_customer_value"
            " where customer_key in ('K01', 'K07')").fetchone()
        households = conn.execute("select count(*) from marts_build.dim_households").fetchone()[0]
    assert household == (2, "São Paulo", "BR", 0, *value)
    assert households == len(others) + 1


def test_households_are_published_with_their_key_and_all_their_columns_for_bi(
        fixture_warehouse: str, fixture_build: list[dict]) -> None:
    """dim_households holds nothing personal: published with household_key as primary key, and
    BI's view shows every column; BI's dim_customers shows household_key, not the address.
    Rolled back: the other tests read the build."""
    with psycopg.connect(fixture_warehouse) as conn:
        publish_marts(conn)
        key = conn.execute(
            "select a.attname from pg_index i join pg_attribute a"
            " on a.attrelid = i.indrelid and a.attnum = any(i.indkey)"
            " where i.indisprimary and i.indrelid = 'marts.dim_households'::regclass").fetchall()
        columns = {
            (schema, table): [r[0] for r in conn.execute(
                "select column_name from information_schema.columns"
                " where table_schema = %s and table_name = %s order by ordinal_position",
                (schema, table))]
            for schema, table in (("marts", "dim_households"), ("bi", "dim_households"),
                                  ("bi", "dim_customers"))}
        conn.rollback()
    assert key == [("household_key",)]
    assert columns["marts", "dim_households"] == [
        "household_key", "members", "city", "country", "members_sharing_surname",
        "household_actual_value", "household_strategic_value", "best_value_tier",
        "contactable_members"]
    assert columns["bi", "dim_households"] == columns["marts", "dim_households"]
    assert "household_key" in columns["bi", "dim_customers"]
    assert not {"address_line", "postcode", "full_name"} & set(columns["bi", "dim_customers"])


def test_every_published_mart_gets_its_primary_key_and_indexes_and_bi_its_descriptions(
        fixture_warehouse: str, fixture_build: list[dict]) -> None:
    """Publish gives each table of `marts` the primary key its dbt YAML declares (composite
    ones too) and its declared indexes, and BI's views the tables' and columns' descriptions.
    Rolled back: the other tests read the build."""
    marts = mart_columns()
    with psycopg.connect(fixture_warehouse) as conn:
        published = {table.name for table in publish_marts(conn)}
        keys = dict(conn.execute(
            "select conrelid::regclass::text, pg_get_constraintdef(oid) from pg_constraint"
            " where contype = 'p' and connamespace = 'marts'::regnamespace").fetchall())
        indexes = {(table, definition.split(" USING btree ")[1]) for table, definition in
                   conn.execute("select tablename, indexdef from pg_indexes where schemaname ="
                                " 'marts' and indexdef not like 'CREATE UNIQUE%'").fetchall()}
        undescribed = conn.execute(
            "select c.relname, count(*) filter (where col_description(c.oid, a.attnum) is null),"
            " obj_description(c.oid, 'pg_class') is null from pg_class c"
            " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0"
            " where c.relnamespace = 'bi'::regnamespace and c.relkind = 'v'"
            " group by c.relname, c.oid").fetchall()
        history = conn.execute(
            "select obj_description('bi.mart_customer_value_history'::regclass, 'pg_class')"
        ).fetchone()[0]
        conn.rollback()
    assert published == set(marts) and len(published) >= 17
    assert set(keys) == {f"marts.{name}" for name in published}
    assert keys == {f"marts.{name}": f"PRIMARY KEY ({', '.join(spec.primary_key)})"
                    for name, spec in marts.items()}
    assert keys["marts.mart_customer_offer_modules"] == "PRIMARY KEY (customer_key, module_type)"
    assert indexes == {(name, f"({', '.join(index.columns)})")
                       for name, spec in marts.items() for index in spec.indexes}
    assert ("fct_orders", "(customer_key)") in indexes
    assert len(undescribed) == len(published)
    assert all(columns == 0 and not table for _, columns, table in undescribed), undescribed
    # A view has no constraints: its description names the key.
    assert history.startswith("One row per customer x as_of date")
    assert history.endswith(" Primary key: customer_key, as_of_date.")
