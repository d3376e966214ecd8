"""`make demo`: a sample of customers through the real pipeline (embedded PostgreSQL, the Airflow
DAG, dbt by Cosmos, Splink, Great Expectations), then a summary of what came out."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from onetoone.foundation import config
from onetoone.generate import generate
from onetoone.generate.erp_source import load_erp_source
from onetoone.operations.migrate import migrate_warehouse
from onetoone.runtime import warehouse
from onetoone.runtime.airflow_env import TaskAttempt, run_airflow, run_dags_test
from onetoone.runtime.dbt import parse_project, run_dbt

DEMO_END_DATE = date(2026, 10, 31)
# The demo runs the daily DAG for two days a month apart, as a scheduler would have, so that tier
# migrations, value over time and churn have something to show; the last is the extracts' end.
DEMO_RUN_DAYS = (DEMO_END_DATE + timedelta(days=1) - timedelta(days=31),
                 DEMO_END_DATE + timedelta(days=1))
DAILY_DAG = "onetoone_daily"


def prepare_sample(customers: int, seed: int, *, days: int = 730, end_date: date = DEMO_END_DATE,
                   landing: Path | None = None) -> Path:
    """Generate the sample into the landing folder unless the same one is already there.

    A different sample makes the warehouse database start afresh: its ledger describes files
    that no longer exist."""
    landing = landing or config.paths().landing
    wanted = {"customers": customers, "seed": seed, "days": days, "end_date": end_date.isoformat()}
    stamp = landing / ".sample.json"
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return landing
    if landing.exists():
        shutil.rmtree(landing)
    reset_warehouse_database()
    generate(landing, customers=customers, seed=seed, days=days, end_date=end_date)
    load_erp_source(config.erp_source_url(), landing / "erp")
    stamp.write_text(json.dumps(wanted))
    return landing


def reset_warehouse_database() -> None:
    with psycopg.connect(config.embedded_url("postgres"), autocommit=True) as conn:
        conn.execute(f'drop database if exists "{config.WAREHOUSE_DB}" with (force)')
        conn.execute(f'create database "{config.WAREHOUSE_DB}"')


class StageProgress:
    """One console line per stage of a run: a task of its own (migrate, identify, publish) or a
    dbt task group (its tasks counted, with their states and the group's time), so a day of
    about 80 tasks reads in about 12 lines. Each task's own log is in Airflow's log folder."""

    def __init__(self, progress: Callable[[str], None]) -> None:
        self._progress = progress
        self._stage: str | None = None
        self._states: dict[str, int] = {}
        self._failed: list[str] = []
        self._started = self._ended = 0.0

    def task_ended(self, attempt: TaskAttempt) -> None:
        stage = attempt.task_id.split(".", 1)[0]
        if stage != self._stage:
            self.flush()
            self._stage, self._started = stage, attempt.started
        self._ended = time.monotonic()
        state = attempt.state or "?"
        self._states[state] = self._states.get(state, 0) + 1
        if state in ("failed", "upstream_failed"):
            self._failed.append(attempt.task_id)

    def flush(self) -> None:
        """Print the stage being counted, if any."""
        if self._stage is None:
            return
        tasks = sum(self._states.values())
        states = ", ".join(f"{count} {state}" for state, count in sorted(self._states.items()))
        what = states if tasks > 1 else next(iter(self._states))
        line = f"  {self._stage:<18} {what:<28} {self._ended - self._started:7.1f} s"
        if self._failed:
            line += f"  (failed: {', '.join(self._failed)})"
        self._progress(line)
        self._stage, self._states, self._failed = None, {}, []


def run_daily_dag(logical_date: date, *, log_file: Path | None = None,
                  progress: Callable[[str], None] | None = None) -> str | None:
    """Run the daily DAG for one day with `airflow dags test`; answer its run id. Every task's
    log goes where Airflow's UI shows it; Airflow's whole output goes to ``log_file`` (else to
    the console), and ``progress`` gets one line per stage (see StageProgress)."""
    args = [DAILY_DAG, logical_date.isoformat()]
    stages = StageProgress(progress or (lambda line: None))
    task_ended = stages.task_ended

    if log_file is None:
        run_airflow(["db", "migrate"])
        run = run_dags_test(args, echo=print, on_task_end=task_ended)
        where = "its task logs are above"
    else:
        config.private_dir(log_file.parent)
        with log_file.open("w", encoding="utf-8") as log:
            config.private_file(log_file)
            migrated = run_airflow(["db", "migrate"], check=False, stdout=log,
                                   stderr=subprocess.STDOUT)
            if migrated.returncode != 0:
                raise RuntimeError(f"airflow db migrate failed; see {log_file}")
            run = run_dags_test(args, echo=lambda line: print(line, file=log),
                                on_task_end=task_ended)
        where = f"full log: {log_file}"
    stages.flush()
    failed = [a for a in run.attempts if a.state in ("failed", "upstream_failed")]
    if failed:
        raise RuntimeError(f"the {DAILY_DAG} DAG run failed at "
                           f"{', '.join(a.task_id for a in failed)}; {where}; task log: "
                           f"{failed[0].log_file}")
    if run.returncode != 0:
        raise RuntimeError(f"the {DAILY_DAG} DAG run failed (exit {run.returncode}); {where}")
    return run.run_id


def summary(landing: Path) -> str:
    truth = landing / "truth" / "records.csv"
    true_people = len({line.split(",")[2] for line in truth.read_text().splitlines()[1:]})
    lines = []
    with psycopg.connect(config.warehouse_url()) as conn:
        customers = conn.execute(
            "select count(distinct customer_key), count(*) from identity.customer_keys").fetchone()
        lines.append(f"customers found: {customers[0]} from {customers[1]} source records "
                     f"(true people: {true_people})")
        ledger = conn.execute(
            "select sum(rows_read), sum(rows_loaded), sum(rows_quarantined) from raw.load_batches"
        ).fetchone()
        lines.append(f"rows read {ledger[0]}, loaded {ledger[1]}, quarantined {ledger[2]} "
                     "(see raw.quarantine)")
        tables = conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
            " order by 1").fetchall()
        for (name,) in tables:
            rows = conn.execute(f'select count(*) from marts."{name}"').fetchone()[0]
            lines.append(f"  marts.{name}: {rows} rows")
        checks = conn.execute(
            "select count(*), count(*) filter (where success) from audit.expectation_results"
            " where run_id = (select run_id from audit.validation_runs"
            "                  order by started_at desc limit 1)").fetchone()
        lines.append(f"quality checks of the last run: {checks[1]} of {checks[0]} passed "
                     "(history in audit.expectation_results)")
        moved = conn.execute(
            "select coalesce(sum(customers), 0) from marts.mart_tier_migrations"
            " where from_value_tier <> 'new'").fetchone()[0]
        lines.append(f"tier moves between the runs: {moved} customers changed tier "
                     "(marts.mart_tier_migrations)")
    p = config.paths()
    lines += [
        "",
        "marts are in schema `marts` of database `onetoone`; query them with:",
        f"  {warehouse.psql_command()} -c 'select * from marts.dim_customers limit 5'",
        f"Data Docs:  {p.data_docs / 'index.html'}",
        f"dbt docs:   {p.dbt_target / 'static_index.html'}",
        f"run report: {p.home / 'reports' / f'report-{DEMO_RUN_DAYS[-1]}.html'}",
    ]
    return "\n".join(lines)


def run_demo(customers: int, seed: int) -> int:
    """The whole pipeline on a generated sample: one line per step and per stage on the
    console, Airflow's and dbt's full output in a log folder whose path is printed."""
    started = time.monotonic()
    logs = config.paths().logs / f"demo-{datetime.now(UTC):%Y%m%dT%H%M%S}"
    logs.mkdir(parents=True, exist_ok=True)
    day = DEMO_RUN_DAYS[-1]

    def step(name: str, action: Callable[[], str | None]) -> None:
        clock = time.monotonic()
        print(f"{name} ...", flush=True)
        detail = action()
        print(f"{name}: done in {time.monotonic() - clock:.1f} s"
              + (f" ({detail})" if detail else ""), flush=True)

    print(f"full logs: {logs}")
    step("warehouse", lambda: _describe_port(warehouse.start()))
    step("sample", lambda: f"{customers} customers, seed {seed}, in "
                           f"{prepare_sample(customers, seed)}")
    step("migrate", lambda: ", ".join(migrate_warehouse(config.warehouse_url())))
    step("dbt parse", lambda: parse_project() or None)
    try:
        for run_day in DEMO_RUN_DAYS:
            step(f"daily DAG for {run_day}",
                 lambda run_day=run_day: run_daily_dag(
                     run_day, log_file=logs / f"daily-dag-{run_day}.log",
                     progress=lambda line: print(line, flush=True)))
    except RuntimeError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1
    with (logs / "dbt-docs.log").open("w", encoding="utf-8") as dbt_log:
        step("dbt docs", lambda: _run_dbt_docs(dbt_log))
    print("\n== onetoone demo ==")
    print(summary(config.paths().landing))
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s; full logs in {logs}")
    print(f"the runs and every task's log in Airflow's UI: onetoone airflow ui "
          f"(log files in {config.paths().airflow_home / 'logs'})")
    # Last, so that whoever reads the end of the output can run the same day again.
    print(f"rerun this day (the same tables come out): "
          f"onetoone airflow dags test {DAILY_DAG} {day.isoformat()}")
    return 0


def _describe_port(status: warehouse.Status) -> str:
    return f"pid {status.pid}, port {status.port}" + (
        f", tcp {status.tcp_host}:{status.port}" if status.tcp_host else "")


def _run_dbt_docs(log) -> str:
    code = run_dbt(["docs", "generate", "--static"], stdout=log, stderr=subprocess.STDOUT)
    if code != 0:
        raise RuntimeError(f"dbt docs generate failed (exit {code}); see {log.name}")
    return str(config.paths().dbt_target / "static_index.html")
