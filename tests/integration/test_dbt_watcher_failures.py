"""A dbt group in Cosmos's watcher mode, configured as the daily DAG's groups are
(onetoone_airflow.cosmos_config), run by `airflow dags test` on the hand-made fixture in a
database of its own: a failed dbt test fails the group's test task, is recorded for auditors
with the passed ones, and stops what follows the group; a model that fails in the group's single
`dbt build` fails its own task, while the models it does not feed succeed.

The group is the daily DAG's staging views (no identity or value step needed before them). Its
DAG is written here, into a DAG folder of its own: the daily DAG would need a whole day's run
before its first dbt group, and nothing after the group but one task that must not run."""

from __future__ import annotations

import sqlite3
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from fixture_database import create_fixture_database, drop_database, warehouse_url_set_to

from onetoone.operations import pipeline

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_dbt_watcher_failures"
DAG_ID = "dbt_watcher_failure_probe"
GROUP = "dbt_staging"
AS_OF = datetime(2025, 6, 21, tzinfo=UTC)
FAILING_TEST = ("accepted_values_stg_web__events_event_type__registration__profile_update__login"
                "__page_view__newsletter_signup__coupon_redemption__consent_change")

PROBE_DAG = f'''
from datetime import datetime

from airflow.sdk import DAG, task
from cosmos import DbtTaskGroup

from onetoone_airflow.cosmos_config import configure_watcher_group, dbt_configs, render_config

# No retries (the build's own is set by configure_watcher_group): a retried model task runs its
# model on its own (Cosmos's fallback), which this test does not need to wait for.
with DAG(dag_id="{DAG_ID}", schedule="@daily", start_date=datetime(2025, 1, 1), catchup=False,
         default_args={{"retries": 0}}):
    project, profile, execution = dbt_configs()
    group = DbtTaskGroup(
        group_id="{GROUP}", project_config=project, profile_config=profile,
        execution_config=execution,
        render_config=render_config("tag:staging",
                                    exclude=["tag:identity", "tag:value", "tag:after_audit"]),
        operator_args={{"vars": {{"as_of": "{{{{ data_interval_end | ds }}}}"}}}})
    configure_watcher_group(group)

    @task
    def after_the_group() -> str:
        return "ran"

    group >> after_the_group()
'''


@pytest.fixture(scope="module")
def fixture_db(warehouse, dbt_manifest) -> Iterator[str]:
    yield create_fixture_database(TEST_DB)
    drop_database(TEST_DB)


@pytest.fixture(scope="module")
def probe_dags(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("probe-dags")
    (folder / "dbt_watcher_failure_probe.py").write_text(PROBE_DAG, encoding="utf-8")
    return folder


class ProbeRun(dict):
    """The probe run's tasks' final states, by task id within the group; ``output`` is the end
    of Airflow's output, for the failure messages."""

    output: str = ""


def _run_probe(url: str, dags: Path, logical_date: str) -> ProbeRun:
    """`airflow dags test` of the probe DAG against ``url``: its tasks' final states."""
    from onetoone.foundation.config import AIRFLOW_CONN_ID
    from onetoone.runtime.airflow_env import (
        airflow_command,
        connection_json,
        ensure_airflow_db,
        metadata_database,
    )

    with warehouse_url_set_to(url):
        ensure_airflow_db()
        argv, env = airflow_command(["dags", "test", DAG_ID, logical_date])
        env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags)
        # dbt's profile and the test results' record use the warehouse's Airflow connection
        env["AIRFLOW_CONN_" + AIRFLOW_CONN_ID.upper()] = connection_json(url)
        run = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=900)
    with sqlite3.connect(metadata_database()) as db:
        rows = db.execute(
            "select task_id, state from task_instance where dag_id = ? and run_id = (select"
            " run_id from dag_run where dag_id = ? order by id desc limit 1)",
            (DAG_ID, DAG_ID)).fetchall()
    assert rows, run.stdout[-3000:]
    states = ProbeRun({task_id.removeprefix(GROUP + "."): state for task_id, state in rows})
    states.output = run.stdout[-6000:]
    return states


def _recorded_tests(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute("select unique_id, status from audit.dbt_test_results"
                            " where run_id = %s", (pipeline.interval_run_id(AS_OF),)).fetchall()
    return {uid.split(".")[2]: status for uid, status in rows}


def _a_batch_of(conn: psycopg.Connection, table: str) -> int:
    return conn.execute(f"select _batch_id from raw.{table} limit 1").fetchone()[0]


def test_the_group_builds_then_passes_its_tests(fixture_db, probe_dags):
    states = _run_probe(fixture_db, probe_dags, AS_OF.date().isoformat())
    assert states.pop("dbt_producer_watcher") == "success", states.output
    assert {"stg_web__events_run", "stg_erp__customers_run"} <= states.keys()
    assert set(states.values()) == {"success"}, states
    recorded = _recorded_tests(fixture_db)
    assert recorded[FAILING_TEST] == "pass" and set(recorded.values()) == {"pass"}


def test_a_failed_dbt_test_fails_the_group_and_is_recorded(fixture_db, probe_dags):
    with psycopg.connect(fixture_db, autocommit=True) as conn:
        batch = _a_batch_of(conn, "web_events")
        conn.execute("insert into raw.web_events (event_id, event_type, occurred_at, payload,"
                     " _batch_id, _source_file, _line_number) values ('E-unknown-type',"
                     " 'teleport', '2025-06-20 10:00+00', '{}', %s, 'landing/web/x.ndjson', 1)",
                     (batch,))
    try:
        states = _run_probe(fixture_db, probe_dags, AS_OF.date().isoformat())
    finally:
        with psycopg.connect(fixture_db, autocommit=True) as conn:
            conn.execute("delete from raw.web_events where event_id = 'E-unknown-type'")
    assert states["dbt_project_test"] == "failed", states
    assert states["after_the_group"] == "upstream_failed", states
    models = {task: state for task, state in states.items() if task.endswith("_run")}
    assert models and set(models.values()) == {"success"}, models
    recorded = _recorded_tests(fixture_db)
    assert recorded[FAILING_TEST] == "fail"
    assert {name for name, status in recorded.items() if status != "pass"} == {FAILING_TEST}


def test_a_failed_model_fails_its_own_task(fixture_db, probe_dags):
    # The web events' staging view reads this column: its create fails in the group's build.
    with psycopg.connect(fixture_db, autocommit=True) as conn:
        conn.execute("alter table raw.web_events rename column payload to payload_renamed")
    try:
        states = _run_probe(fixture_db, probe_dags, "2025-06-22")
    finally:
        with psycopg.connect(fixture_db, autocommit=True) as conn:
            conn.execute("alter table raw.web_events rename column payload_renamed to payload")
    # The build failed, then its retry restored its results and skipped (Cosmos never builds
    # twice): the gate passes, and each model's task reports its node from the build.
    assert states["dbt_producer_watcher"] == "skipped", states
    assert states["dbt_producer_watcher_done"] == "success", states
    assert states["stg_web__events_run"] == "failed", states.output
    others = {task: state for task, state in states.items()
              if task.endswith("_run") and task != "stg_web__events_run"}
    assert others and set(others.values()) == {"success"}, others
    assert states["dbt_project_test"] == "upstream_failed", states
    assert states["after_the_group"] == "upstream_failed", states
