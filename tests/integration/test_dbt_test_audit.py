"""dbt's tests recorded for auditors from a real dbt run: `dbt test` on the hand-made fixture
(dbt_project/tests/fixtures/onetoone_fixture.sql) in a database of its own, its
run_results.json stored in ``audit.dbt_test_results`` as the daily DAG's dbt tasks store theirs,
a test broken by a bad row recorded as failed, and ``mart_quality_summary`` counting them."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fixture_database import create_fixture_database, drop_database, warehouse_url_set_to

from onetoone.foundation import config
from onetoone.operations import pipeline
from onetoone.runtime.dbt import run_dbt
from onetoone.stages.serving import access

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_dbt_test_audit"
AS_OF = datetime(2025, 6, 21, tzinfo=UTC)
RUN_ID = pipeline.interval_run_id(AS_OF)
AUDITOR, PASSWORD = "test_dbt_tests_auditor", secrets.token_urlsafe(16)
# The tests on raw's sources: they need no model built, so the run stays short.
RAW_SOURCE_TESTS = ["--select", "source:raw"]
BROKEN_TEST = "source_relationships_raw_web_events__batch_id__batch_id__source_raw_load_batches_"


@pytest.fixture(scope="module")
def fixture_db(warehouse) -> Iterator[str]:
    url = create_fixture_database(TEST_DB)
    with psycopg.connect(url, autocommit=True) as conn:
        access.create_login(conn, AUDITOR, "auditor", PASSWORD)
    yield url
    drop_database(TEST_DB)
    with psycopg.connect(config.embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f"drop role if exists {AUDITOR}")


def _dbt(url: str, target: Path, *args: str) -> tuple[int, Path]:
    """dbt against ``url`` with its artifacts in ``target``: its exit code and run results."""
    with warehouse_url_set_to(url):
        code = run_dbt([*args, "--quiet", "--no-use-colors", "--target-path", str(target)])
    return code, target / "run_results.json"


def _recorded(url: str) -> dict[str, tuple]:
    """The run's recorded tests as the auditor reads them: name -> (status, failures, message)."""
    with psycopg.connect(url, user=AUDITOR, password=PASSWORD, autocommit=True) as auditor:
        rows = auditor.execute(
            "select unique_id, status, failures, message from audit.dbt_test_results"
            " where run_id = %s", (RUN_ID,)).fetchall()
    return {uid.split(".")[2]: (status, failures, message) for uid, status, failures, message
            in rows}


def test_dbt_test_results_are_recorded_failed_ones_too(fixture_db: str, tmp_path: Path):
    code, run_results = _dbt(fixture_db, tmp_path / "first", "test", *RAW_SOURCE_TESTS)
    assert code == 0
    ran = [r for r in json.loads(run_results.read_text())["results"]
           if r["unique_id"].startswith("test.")]
    recorded = pipeline.record_dbt_test_results(fixture_db, run_results, as_of=AS_OF)
    assert recorded == {"run_id": RUN_ID, "tests": len(ran)} and len(ran) > 10
    first = _recorded(fixture_db)
    assert len(first) == len(ran) and {s for s, _, _ in first.values()} == {"pass"}
    assert first[BROKEN_TEST] == ("pass", 0, None)

    # A web event of a batch the ledger does not know: the relationships test fails. The day
    # is run again: its rows are replaced (no second copy) and the failure is kept.
    with psycopg.connect(fixture_db, autocommit=True) as conn:
        conn.execute("insert into raw.web_events (event_id, event_type, occurred_at, payload,"
                     " _batch_id, _source_file, _line_number) values ('E-orphan', 'page_view',"
                     " '2025-06-20 10:00+00', '{}', 999, 'landing/web/orphan.ndjson', 1)")
    try:
        code, run_results = _dbt(fixture_db, tmp_path / "rerun", "test", *RAW_SOURCE_TESTS)
        assert code != 0
        pipeline.record_dbt_test_results(fixture_db, run_results, as_of=AS_OF)
        rerun = _recorded(fixture_db)
        assert rerun.keys() == first.keys()
        assert rerun[BROKEN_TEST] == ("fail", 1, "Got 1 result, configured to fail if != 0")
        assert {name for name, (status, _, _) in rerun.items() if status != "pass"} == {
            BROKEN_TEST}

        # The marts' quality summary counts them, in the dbt layer of the run.
        code, _ = _dbt(fixture_db, tmp_path / "mart", "run", "--select",
                       "+mart_quality_summary")
        assert code == 0
        with psycopg.connect(fixture_db, autocommit=True) as conn:
            summary = conn.execute(
                f"select suites, checks, checks_passed, checks_skipped, critical_failures"
                f" from {config.BUILD_SCHEMA}.mart_quality_summary"
                f" where run_id = %s and layer = 'dbt'", (RUN_ID,)).fetchall()
        assert summary == [(len(ran), len(ran), len(ran) - 1, 0, 1)]
    finally:
        with psycopg.connect(fixture_db, autocommit=True) as conn:
            conn.execute("delete from raw.web_events where event_id = 'E-orphan'")


def test_a_dbt_run_without_results_is_a_clear_error(fixture_db: str, tmp_path: Path):
    missing = tmp_path / "run_results.json"
    with pytest.raises(ValueError, match="not a dbt run_results.json"):
        pipeline.record_dbt_test_results(fixture_db, missing, as_of=AS_OF)
