"""dbt's own tests without the DAG: every model built, and every unit and data test run, on the
hand-made fixture (dbt_project/tests/fixtures/onetoone_fixture.sql) in a database of its own."""

from __future__ import annotations

import json
import os

import psycopg
import pytest

from onetoone.foundation import config
from onetoone.operations.migrate import migrate_warehouse
from onetoone.runtime.dbt import run_dbt

FIXTURE_DB = "onetoone_dbt_fixture"
FIXTURE_SQL = config.DBT_PROJECT_DIR / "tests" / "fixtures" / "onetoone_fixture.sql"


@pytest.fixture(scope="module")
def fixture_warehouse(warehouse) -> str:
    """A database loaded with the fixture over the stages' DDL (the warehouse's own migrate)."""
    with psycopg.connect(config.embedded_url("postgres"), autocommit=True) as conn:
        conn.execute(f"drop database if exists {FIXTURE_DB} with (force)")
        conn.execute(f"create database {FIXTURE_DB}")
    url = config.embedded_url(FIXTURE_DB)
    migrate_warehouse(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FIXTURE_SQL.read_text())
    return url


@pytest.fixture(scope="module")
def fixture_build(fixture_warehouse: str) -> list[dict]:
    """`dbt build` of the whole project on the fixture; dbt's run results, one per node."""
    previous = os.environ.get("ONETOONE_WAREHOUSE_URL")
    os.environ["ONETOONE_WAREHOUSE_URL"] = fixture_warehouse
    try:
        returncode = run_dbt(["build", "--quiet", "--no-use-colors"])
    finally:
        if previous is None:
            os.environ.pop("ONETOONE_WAREHOUSE_URL", None)
        else:
            os.environ["ONETOONE_WAREHOUSE_URL"] = previous
    results = json.loads((config.paths().dbt_target / "run_results.json").read_text())["results"]
    failed = [(r["unique_id"], r["status"], r.get("message")) for r in results
              if r["status"] not in ("success", "pass")]
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
            "test_mart_segment_value_per_segment_and_tier",
            "test_mart_customer_value_history_changes_between_versions",
            "test_mart_portfolios_manager_minimum",
            "test_mart_customer_offer_modules_assembles_with_reasons"} <= names


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
