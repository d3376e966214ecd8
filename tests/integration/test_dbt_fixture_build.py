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
            "test_mart_quality_summary_counts_dbt_tests_per_run"} <= names


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
