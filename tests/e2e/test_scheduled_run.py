"""The daily DAG's first scheduled run under the real scheduler, as a deployment runs it: the api
server, scheduler and dag processor as processes of their own, the LocalExecutor running tasks
in parallel, Airflow's metadata in PostgreSQL (a database on the session's embedded server;
SQLite cannot serve parallel task processes). `airflow dags test` runs one task at a time and
hid that parallel dbt tasks rewrote the manifest the DAG file is parsed from.

The DAG is unpaused at creation and catches up no history, so the scheduler itself starts the
run of the latest complete day, exactly as on a new deployment. That is the day the
`airflow dags test` run of conftest.py covered, on the same warehouse: the scheduled run is
also the rerun of a day, which must leave the same tables."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest
from warehouse_state import warehouse_fingerprint

from onetoone.operations.demo import DAILY_DAG

pytestmark = pytest.mark.e2e

METADATA_DB = "airflow_metadata"
PARALLELISM = 3
# A few minutes on an idle 2-core machine; far more when it is shared.
RUN_TIMEOUT_SECONDS = 45 * 60
COMPONENTS = (["api-server"], ["scheduler"], ["dag-processor"])


def _free_local_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _metadata_url(driver: str = "postgresql") -> str:
    from onetoone.foundation import config

    parts = config.connection_parts(config.embedded_url(METADATA_DB))
    return (f"{driver}://{quote(parts.user)}:{quote(parts.password, safe='')}@/{METADATA_DB}"
            f"?host={quote(parts.host, safe='/')}&port={parts.port}")


def _airflow_env(home: Path, port: int) -> dict[str, str]:
    from onetoone.runtime.airflow_env import airflow_environment

    bin_dir = str(Path(sys.executable).parent)
    return {
        **os.environ,
        **airflow_environment(),
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": _metadata_url("postgresql+psycopg2"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": str(PARALLELISM),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # One secret for all components: the api server checks the tokens the scheduler signs.
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
    }


def _stop(process: subprocess.Popen) -> None:
    """The whole process group: Airflow components leave children behind on SIGTERM."""
    for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            os.killpg(process.pid, 0)  # children may outlive the leader
        except (subprocess.TimeoutExpired, ProcessLookupError, PermissionError):
            pass


def _runs(conn: psycopg.Connection) -> list[tuple]:
    return conn.execute("select run_id, run_type, state from dag_run where dag_id = %s",
                        (DAILY_DAG,)).fetchall()


def _task_instances(conn: psycopg.Connection, run_id: str) -> list[tuple]:
    return conn.execute(
        "select task_id, state, try_number, start_date, end_date from task_instance"
        " where dag_id = %s and run_id = %s order by start_date", (DAILY_DAG, run_id)).fetchall()


def _diagnosis(conn: psycopg.Connection, logs: Path) -> str:
    lines = [f"runs: {_runs(conn)}"]
    for run_id, *_ in _runs(conn):
        lines += [f"  {t[0]}: {t[1]} (try {t[2]})" for t in _task_instances(conn, run_id)
                  if t[1] != "success"]
    for log in sorted(logs.glob("*.log")):
        lines.append(f"--- {log.name} (last lines)")
        lines += log.read_text(errors="replace").splitlines()[-15:]
    return "\n".join(lines)


@pytest.fixture(scope="module")
def scheduled_run(daily_run, warehouse_url, dbt_manifest, onetoone_home, tmp_path_factory):
    from onetoone.foundation.config import embedded_url

    with psycopg.connect(embedded_url("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{METADATA_DB}" with (force)')
        conn.execute(f'create database "{METADATA_DB}"')
    home = onetoone_home / "airflow-scheduled"
    logs = tmp_path_factory.mktemp("airflow-components")
    env = _airflow_env(home, _free_local_port())
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True,
                   timeout=600)
    manifest_before = hashlib.sha256(dbt_manifest.read_bytes()).hexdigest()
    processes = []
    try:
        for command in COMPONENTS:
            out = (logs / f"{command[0]}.log").open("wb")
            processes.append(subprocess.Popen(
                ["airflow", *command], env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True))
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        with psycopg.connect(_metadata_url(), autocommit=True) as conn:
            while True:
                runs = _runs(conn)
                if runs and runs[0][2] in ("success", "failed"):
                    break
                assert all(p.poll() is None for p in processes), \
                    "an Airflow component exited:\n" + _diagnosis(conn, logs)
                assert time.monotonic() < deadline, \
                    f"no finished run in {RUN_TIMEOUT_SECONDS} s:\n" + _diagnosis(conn, logs)
                time.sleep(5)
            (run_id, run_type, state), = runs
            assert state == "success", _diagnosis(conn, logs)
            tasks = _task_instances(conn, run_id)
            interval_end, = conn.execute(
                "select data_interval_end from dag_run where run_id = %s", (run_id,)).fetchone()
    finally:
        for process in processes:
            _stop(process)
    with psycopg.connect(warehouse_url) as conn:
        fingerprint = warehouse_fingerprint(conn)
    return {"run_type": run_type, "tasks": tasks, "interval_end": interval_end.date(),
            "fingerprint": fingerprint, "manifest_before": manifest_before,
            "manifest": dbt_manifest}


def test_the_scheduler_started_the_run_and_no_dbt_task_needed_a_retry(scheduled_run):
    assert scheduled_run["run_type"] == "scheduled"
    # A task whose process cannot load the DAG (an unreadable manifest) fails to start and is
    # retried: every dbt task and publish must have succeeded at their first try.
    retried = [(task_id, tries) for task_id, _, tries, *_ in scheduled_run["tasks"]
               if tries != 1 and (task_id.startswith("dbt_") or task_id == "publish")]
    assert not retried, f"tasks that needed more than one try: {retried}"


def test_dbt_tasks_ran_in_parallel(scheduled_run):
    dbt_tasks = [(start, end) for task_id, _, _, start, end in scheduled_run["tasks"]
                 if task_id.startswith("dbt_")]
    overlapping = sum(1 for (start_a, end_a), (start_b, _) in zip(dbt_tasks, dbt_tasks[1:],
                                                                   strict=False)
                      if start_b < end_a)
    assert overlapping > 0, "no two dbt tasks ran at the same time: the test proves nothing"


def test_no_task_rewrote_the_manifest_the_dag_is_parsed_from(scheduled_run):
    manifest = scheduled_run["manifest"]
    assert "nodes" in json.loads(manifest.read_text(encoding="utf-8"))
    assert hashlib.sha256(manifest.read_bytes()).hexdigest() == scheduled_run["manifest_before"]


def test_the_marts_were_published(scheduled_run, warehouse_url):
    with psycopg.connect(warehouse_url) as conn:
        published = {r[0]: conn.execute(f'select count(*) from marts."{r[0]}"').fetchone()[0]
                     for r in conn.execute("select table_name from information_schema.tables"
                                           " where table_schema = 'marts'").fetchall()}
    assert {"dim_customers", "fct_orders", "mart_customer_value", "mart_portfolios"} \
        <= published.keys()
    assert published["dim_customers"] > 0 and published["fct_orders"] > 0


def test_the_scheduled_rerun_of_the_day_leaves_the_same_tables(scheduled_run, daily_run):
    if scheduled_run["interval_end"] != daily_run["logical_date"]:
        pytest.skip("midnight passed between the two runs: they covered different days")
    before, after = daily_run["fingerprint"], scheduled_run["fingerprint"]
    changed = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    assert not changed, f"tables changed on rerun: {changed}"
