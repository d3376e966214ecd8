"""`dbt source freshness` measures when data was written, not the business time in it: on the
hand-made fixture (dbt_project/tests/fixtures/onetoone_fixture.sql) loaded just now, in a
database of its own, every source is fresh although its calls, events and orders are from
2025; rows written days ago are still stale."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fixture_database import create_fixture_database, drop_database, warehouse_url_set_to

from onetoone.operations.migrate import migrate
from onetoone.runtime.dbt import run_dbt
from onetoone.stages.quality import record_dbt_tests

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_dbt_freshness"
# The sources the fixture writes (value and the quality results are written by pipeline steps).
LOADED_SOURCES = ("source:raw", "source:identity")


@pytest.fixture(scope="module")
def fixture_db(warehouse) -> Iterator[str]:
    yield create_fixture_database(TEST_DB)
    drop_database(TEST_DB)


def _run_dbt(url: str, args: list[str]) -> int:
    with warehouse_url_set_to(url):
        return run_dbt([*args, "--quiet", "--no-use-colors"])


def _dbt_test(url: str, target: Path) -> int:
    return _run_dbt(url, ["test", "--select", "source:identity", "--target-path", str(target)])


def _freshness(url: str, target: Path, *select: str) -> tuple[int, dict[str, str]]:
    """`dbt source freshness` against ``url``: its exit code and each source's status."""
    code = _run_dbt(url, ["source", "freshness", "--target-path", str(target),
                          "--select", *select])
    results = json.loads((target / "sources.json").read_text())["results"]
    return code, {r["unique_id"].removeprefix("source.onetoone."): r["status"] for r in results}


def test_freshly_loaded_data_is_fresh_however_old_its_business_times(fixture_db: str,
                                                                     tmp_path: Path):
    # What the fixture loads: raw (calls of 2025, ERP windows ending 2025-06-21) and identity.
    code, statuses = _freshness(fixture_db, tmp_path, *LOADED_SOURCES)
    assert code == 0, statuses
    assert set(statuses.values()) == {"pass"}
    assert {"raw.callcenter_calls", "raw.web_events", "raw.erp_orders", "raw.load_batches",
            "identity.customer_keys"} <= statuses.keys()
    with psycopg.connect(fixture_db) as conn:
        newest_call = conn.execute("select max(called_at) from raw.callcenter_calls").fetchone()[0]
    assert newest_call < datetime(2025, 7, 1)  # the business time stays what it was


def test_dbt_test_results_just_recorded_are_fresh(fixture_db: str, tmp_path: Path):
    code = _dbt_test(fixture_db, tmp_path)
    assert code == 0
    with psycopg.connect(fixture_db) as conn, conn.transaction():
        assert record_dbt_tests(conn, run_id="interval__2025-06-21",
                                as_of=datetime(2025, 6, 21, tzinfo=UTC),
                                run_results=tmp_path / "run_results.json") > 0
    code, statuses = _freshness(fixture_db, tmp_path, "source:audit.dbt_test_results")
    assert (code, statuses) == (0, {"audit.dbt_test_results": "pass"})


def test_rows_loaded_days_ago_are_stale(fixture_db: str, tmp_path: Path):
    # error_after is 3 days: calls loaded 4 days ago are an error, then fresh again when loaded.
    with psycopg.connect(fixture_db, autocommit=True) as conn:
        conn.execute("update raw.callcenter_calls set _loaded_at = now() - interval '4 days'")
        conn.execute("update identity.customer_keys set assigned_at = now() - interval '30 hours'")
    try:
        code, statuses = _freshness(fixture_db, tmp_path, *LOADED_SOURCES)
        assert code != 0
        assert statuses["raw.callcenter_calls"] == "error"
        assert statuses["identity.customer_keys"] == "warn"  # warn_after 1 day
        assert {s for name, s in statuses.items()
                if name not in ("raw.callcenter_calls", "identity.customer_keys")} == {"pass"}
    finally:
        with psycopg.connect(fixture_db, autocommit=True) as conn:
            conn.execute("update raw.callcenter_calls set _loaded_at = now()")
            conn.execute("update identity.customer_keys set assigned_at = now()")


def test_rows_loaded_before_the_load_timestamp_existed_get_their_batch_time(fixture_db: str):
    """An older warehouse: raw tables without _loaded_at get their batch's finish time."""
    # In one transaction rolled back at the end: the module's database stays as it was.
    with psycopg.connect(fixture_db) as conn:
        conn.execute("alter table raw.web_events drop column _loaded_at")
        conn.execute("update raw.load_batches set finished_at = '2025-06-21 03:00+00'"
                     " where batch_id = 12")
        migrate(conn)
        loaded = dict(conn.execute(
            "select _batch_id, max(_loaded_at) from raw.web_events group by 1").fetchall())
        default = conn.execute(
            "select column_default from information_schema.columns where table_schema = 'raw'"
            " and table_name = 'web_events' and column_name = '_loaded_at'").fetchone()[0]
        conn.rollback()
    assert loaded[12] == datetime(2025, 6, 21, 3, tzinfo=UTC)
    assert default == "now()"
