"""The environment Airflow runs in, configured by the project (no hand-edited airflow.cfg).

Airflow's home and its metadata database (SQLite, enough for `airflow dags test` and a single
machine) live in the state folder. The warehouse and ERP connections are Airflow connections
given as ``AIRFLOW_CONN_*`` variables; if the caller already set them (an external warehouse),
they are left alone.

`airflow dags test` runs through ``run_dags_test``, so that its runs read in Airflow's UI as a
scheduler's do: every task's log where the UI looks for it, and the run's true start.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from onetoone.foundation.config import (
    AIRFLOW_CONN_ID,
    DAGS_DIR,
    ERP_CONN_ID,
    PLUGINS_DIR,
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    connection_parts,
    erp_source_url,
    open_private,
    paths,
    private_dir,
    warehouse_url,
)


def connection_json(libpq_url: str) -> str:
    """An Airflow connection (JSON form) for a libpq URI; a socket directory becomes the host."""
    parts = connection_parts(libpq_url)
    return json.dumps({
        "conn_type": "postgres",
        "host": parts.host,
        "port": parts.port,
        "login": parts.user,
        "password": parts.password,
        "schema": parts.dbname,
    })


def metadata_database() -> Path:
    """Airflow's metadata database (SQLite) in the state folder."""
    return paths().airflow_home / "airflow.db"


def airflow_environment() -> dict[str, str]:
    p = paths()
    env = {
        "ONETOONE_HOME": str(p.home),
        "AIRFLOW_HOME": str(p.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{metadata_database()}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(p.airflow_home / "logs"),
        # Task logs quote what tasks log; Airflow's defaults are group-writable (0o775/0o664).
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": oct(PRIVATE_DIR_MODE),
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": oct(PRIVATE_FILE_MODE),
        # Cosmos: our DAG renders dbt from a manifest, so no `dbt ls` cache is needed; its
        # partial-parse cache (copied in and out of each task's own project copy by rename)
        # spares every dbt task a full parse of the project.
        "AIRFLOW__COSMOS__ENABLE_CACHE": "True",
        "AIRFLOW__COSMOS__CACHE_DIR": str(p.home / "dbt" / "cosmos_cache"),
        "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS": "False",
        "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_YAML_SELECTORS": "False",
        "AIRFLOW__COSMOS__PROPAGATE_LOGS": "False",
        # No DBT_TARGET_PATH: each dbt task writes into its own copy of the project, never into
        # the state folder's target that the DAG is rendered from.
        "DBT_LOG_PATH": str(p.dbt_logs),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "GX_ANALYTICS_ENABLED": "False",
        # No usage telemetry: it would try the network on every task.
        "SCARF_ANALYTICS": "false",
        "SCARF_NO_ANALYTICS": "true",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    }
    env.setdefault("AIRFLOW_CONN_" + AIRFLOW_CONN_ID.upper(), connection_json(warehouse_url()))
    env.setdefault("AIRFLOW_CONN_" + ERP_CONN_ID.upper(), connection_json(erp_source_url()))
    for name in ("AIRFLOW_CONN_" + AIRFLOW_CONN_ID.upper(), "AIRFLOW_CONN_" + ERP_CONN_ID.upper()):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def airflow_command(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run this virtualenv's `airflow` CLI for the project."""
    p = paths()
    private_dir(p.airflow_home)
    env = {**os.environ, **airflow_environment()}
    # The venv's bin first: Airflow starts helper processes by name.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return [str(Path(bin_dir) / "airflow"), *args], env


def run_airflow(args: list[str], *, check: bool = True, **options) -> subprocess.CompletedProcess:
    """Run the `airflow` CLI of this virtualenv in the project's Airflow environment
    (``options`` go to ``subprocess.run``, e.g. where its output goes)."""
    argv, env = airflow_command(args)
    return subprocess.run(argv, env=env, check=check, **options)


def ensure_airflow_db() -> None:
    """Create or upgrade Airflow's metadata database (idempotent)."""
    run_airflow(["db", "migrate"])


# Airflow 3's `airflow dags test` runs every task inside its own process, one after another, and
# logs them to its output only: it writes no task log files, so the UI showed its runs without
# logs. Run with JSON logs (the format of Airflow's own task log files), its output is cut at the
# task boundaries it logs, into the files the UI's log reader opens: `[logging] base_log_folder`
# and Airflow's default `log_filename_template`. Only what the tasks log goes there, as on the
# console; the project's code logs counts and names, never values.
_DAGS_TEST_ENV = {"AIRFLOW__LOGGING__JSON_LOGS": "True"}
_TASK_STARTS = re.compile(r"\[DAG TEST\] starting task_id=(?P<task>\S+) map_index=(?P<map>-?\d+)")
_TASK_RUNS = re.compile(r"\[DAG TEST\] running task <TaskInstance: (?P<ti>\S+) (?P<run>\S+) ")
_TASK_ENDS = re.compile(r"\[DAG TEST\] end task task_id=")
_STATE_UPDATED = "Task instance state updated"


@dataclass
class TaskAttempt:
    """One try of a task in a `dags test` run, and where its log is."""

    task_id: str
    map_index: int
    try_number: int
    log_file: Path
    state: str | None = None
    started: float = field(default_factory=time.monotonic)


@dataclass
class DagsTestRun:
    returncode: int
    dag_id: str | None = None
    run_id: str | None = None
    attempts: list[TaskAttempt] = field(default_factory=list)


class TaskLogSplitter:
    """Reads `airflow dags test`'s JSON output line by line, writes each task's lines to its
    task log file and answers every line rendered for people."""

    def __init__(self, log_folder: Path, run: DagsTestRun,
                 on_task_end: Callable[[TaskAttempt], None]) -> None:
        self.log_folder, self.run, self.on_task_end = log_folder, run, on_task_end
        self.starting: tuple[str, int] | None = None
        self.attempt: TaskAttempt | None = None
        self.file: IO[str] | None = None
        self.timestamp: str | None = None

    def feed(self, line: str) -> str:
        record = _json_record(line)
        event = str(record.get("event", "")) if record else ""
        if match := _TASK_STARTS.search(event):
            self.starting = (match["task"], int(match["map"]))
        elif self.starting and (match := _TASK_RUNS.search(event)):
            self._open(*self.starting, ti=match["ti"], run_id=match["run"])
        if record:
            self.timestamp = record.get("timestamp", self.timestamp)
        if self.file is not None:
            # Lines that are not Airflow's (dbt's, print()) are wrapped as Airflow wraps a task's
            # output in its log files, stamped as the record before them: the UI orders a log's
            # lines by time.
            self.file.write((line if record else json.dumps(
                {"timestamp": self.timestamp or datetime.now(UTC).isoformat(), "level": "info",
                 "event": line, "logger": "task.stdout"}, separators=(",", ":"))) + "\n")
            if record and event == _STATE_UPDATED and "new_state" in record:
                self.attempt.state = str(record["new_state"])
            if _TASK_ENDS.search(event):
                self.close()
        return _render(record) if record else line

    def _open(self, task_id: str, map_index: int, *, ti: str, run_id: str) -> None:
        self.close()
        run = self.run
        run.dag_id = run.dag_id or ti.removesuffix(f".{task_id}")
        run.run_id = run.run_id or run_id
        try_number = 1 + sum(1 for a in run.attempts
                             if (a.task_id, a.map_index) == (task_id, map_index))
        folder = private_dir(
            self.log_folder / f"dag_id={run.dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
            / (f"map_index={map_index}" if map_index >= 0 else ""))
        self.attempt = TaskAttempt(task_id, map_index, try_number,
                                   folder / f"attempt={try_number}.log")
        run.attempts.append(self.attempt)
        self.file = open_private(self.attempt.log_file, "w", encoding="utf-8")
        self.starting = None

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
            self.on_task_end(self.attempt)


def _json_record(line: str) -> dict | None:
    if not line.startswith("{"):
        return None
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and "event" in record else None


def _render(record: dict) -> str:
    """A JSON log record as Airflow's console shows it."""
    rest = " ".join(f"{key}={value if isinstance(value, str) else json.dumps(value)}"
                    for key, value in record.items()
                    if key not in ("timestamp", "level", "event", "logger"))
    return (f"{record.get('timestamp', '')} [{record.get('level', ''):<9}] {record['event']} "
            f"[{record.get('logger', '')}] {rest}").rstrip()


def run_dags_test(args: list[str], *, echo: Callable[[str], None],
                  on_task_end: Callable[[TaskAttempt], None] = lambda attempt: None,
                  ) -> DagsTestRun:
    """`airflow dags test ARGS` with every task's log in Airflow's task log files, so that the
    UI shows it; Airflow's whole output goes to ``echo`` line by line, ``on_task_end`` hears of
    every task try as it ends. The run's start is set right afterwards (``record_run_start``)."""
    argv, env = airflow_command(["dags", "test", *args])
    env.update(_DAGS_TEST_ENV)
    run = DagsTestRun(returncode=0)
    logs = TaskLogSplitter(Path(env["AIRFLOW__LOGGING__BASE_LOG_FOLDER"]), run, on_task_end)
    with subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, errors="replace") as process:
        for line in process.stdout:
            echo(logs.feed(line.rstrip("\n")))
    logs.close()
    run.returncode = process.returncode
    if run.run_id:
        record_run_start(run.dag_id, run.run_id)
    return run


def record_run_start(dag_id: str, run_id: str) -> None:
    """Set a run's start to when its first task started. `airflow dags test` records its run as
    started at the logical date (apache/airflow#66127, open in Airflow 3.3), so a day run a month
    later lasted a month in the UI."""
    run = {"dag_id": dag_id, "run_id": run_id}
    with closing(sqlite3.connect(metadata_database(), timeout=30)) as db, db:
        db.execute(
            "update dag_run set start_date = (select min(start_date) from ("
            "    select start_date from task_instance where dag_id = :dag_id and run_id = :run_id"
            "    union all select start_date from task_instance_history"
            "     where dag_id = :dag_id and run_id = :run_id))"
            " where dag_id = :dag_id and run_id = :run_id and exists (select 1 from task_instance"
            "  where dag_id = :dag_id and run_id = :run_id and start_date is not null)", run)
