"""Benchmark of the whole pipeline against the goals of issue #12: generate a sample, run the
daily DAG through Airflow for a full day and then the next day's increment, and print per stage
(extract/load, identity, value, dbt, quality) wall time, rows per second and peak memory, the
slowest dbt models, the value model's holdout check of that run, and each goal next to its figure,
"met" or "not met".

    .venv/bin/python bench/bench_pipeline.py --customers 100000 --compare-customers 10000
    make bench CUSTOMERS=100000 COMPARE_CUSTOMERS=10000          (INCREMENT=0 skips the increment)

The goals (issue #12):
- whole DAG at most 2.5 times the identity step's own time (stated at 100,000 customers);
- linear: the whole DAG at most 1.2 times the size ratio slower at the larger size (12 times for
  100,000 against 10,000 customers); measured when ``--compare-customers`` is given;
- peak memory at most 6 GB with PostgreSQL's backends counted (stated at 500,000 customers,
  about a million source records);
- the daily increment at most 10% of the full day's whole-DAG time.

The full day is the run for the generated period's last day (``DEMO_END_DATE``): it loads every
extract up to that day, the day itself excluded. The increment is the run for the next day, as a
scheduler would start it: it loads the last day's call-center and web files and the ERP rows
updated on that day ("the next day's extracts"), on the warehouse the full day left.

Each size runs in a state folder of its own (a fresh embedded warehouse), so it never touches the
demo's. Stage times come from Airflow's own task records; the whole DAG is the first task's start
to the last task's end. Memory is sampled every 0.5 s: the resident set (RSS) of the Airflow
process tree (tasks run inside it under `airflow dags test`), and the proportional set (PSS: a
shared page counted once, split between the processes sharing it) of that tree and of every
PostgreSQL process of the warehouse server (postmaster and backends); the goal is on the sum of
the two PSS figures. The first run on a new warehouse trains the identity model (the
bench says so): later days score with the saved model. Machines here are noisy: compare figures
from one run, and read them next to the load averages printed with them.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

import psutil

STAGES = {
    "extract/load": lambda t: t.startswith("ingest_"),
    "identity": lambda t: t == "identify",
    "value": lambda t: t == "value",
    "dbt": lambda t: t.startswith("dbt_"),
    "quality": lambda t: t.startswith("check_"),
    "publish": lambda t: t == "publish",
}

DBT_TASKS_SHOWN = 8
SAMPLE_SECONDS = 0.5
GB = 10**9

# Issue #12's goals.
WHOLE_DAG_PER_IDENTITY = 2.5
LINEAR_SLACK = 1.2  # 12 times the time for 10 times the customers
PEAK_MEMORY_BYTES = 6 * GB
INCREMENT_SHARE = 0.10


@dataclass(frozen=True)
class MemoryPeak:
    airflow_rss: int
    airflow_pss: int
    postgres_pss: int
    together_pss: int


class MemorySampler(threading.Thread):
    """Samples the memory of this process's tree (Airflow and its tasks) and of the warehouse's
    PostgreSQL server (the postmaster ``postgres_pid`` and its backends)."""

    def __init__(self, postgres_pid: int | None) -> None:
        super().__init__(daemon=True)
        # (time, airflow RSS, airflow PSS, postgres PSS)
        self.samples: list[tuple[float, int, int, int]] = []
        self._postgres_pid = postgres_pid
        self._stopping = threading.Event()

    @staticmethod
    def _tree(root: psutil.Process) -> list[psutil.Process]:
        try:
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def _postgres(self) -> list[psutil.Process]:
        if self._postgres_pid is None:
            return []
        try:
            return self._tree(psutil.Process(self._postgres_pid))
        except psutil.Error:
            return []

    def run(self) -> None:
        me = psutil.Process()
        while not self._stopping.is_set():
            postgres = self._postgres()
            server = {proc.pid for proc in postgres}
            rss = pss = pg_pss = 0
            for proc in self._tree(me):
                if proc.pid in server or proc.pid == me.pid:
                    continue
                try:
                    info = proc.memory_full_info()
                    rss += info.rss
                    pss += info.pss
                except psutil.Error:
                    pass
            for proc in postgres:
                with contextlib.suppress(psutil.Error):
                    pg_pss += proc.memory_full_info().pss
            self.samples.append((time.time(), rss, pss, pg_pss))
            self._stopping.wait(SAMPLE_SECONDS)

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def peak(self, start: float, end: float) -> MemoryPeak:
        window = [s for s in self.samples if start <= s[0] <= end] or [(0, 0, 0, 0)]
        return MemoryPeak(max(s[1] for s in window), max(s[2] for s in window),
                          max(s[3] for s in window), max(s[2] + s[3] for s in window))


def load_averages() -> str:
    return "load averages " + " ".join(f"{load:.2f}" for load in os.getloadavg())


def task_windows(airflow_db: Path) -> tuple[str, dict[str, list[tuple[float, float]]]]:
    """The last run's id and the (start, end) of every task try of it, by task id."""
    with sqlite3.connect(airflow_db) as conn:
        run_id = conn.execute("select run_id from dag_run order by id desc limit 1").fetchone()[0]
        rows = conn.execute(
            "select task_id, start_date, end_date from task_instance"
            " where run_id = ? and start_date is not null", (run_id,)).fetchall()
    windows = defaultdict(list)
    for task_id, start, end in rows:
        windows[task_id].append((datetime.fromisoformat(start).timestamp(),
                                 datetime.fromisoformat(end).timestamp()))
    return run_id, windows


def task_result(airflow_db: Path, run_id: str, task_id: str) -> dict:
    """A task's return value (its XCom), or {} when Airflow kept none readable."""
    try:
        with sqlite3.connect(airflow_db) as conn:
            row = conn.execute("select value from xcom where run_id = ? and task_id = ?"
                               " and key = 'return_value'", (run_id, task_id)).fetchone()
        value = json.loads(row[0]) if row else {}
        return value if isinstance(value, dict) else {}
    except (sqlite3.Error, ValueError, TypeError):
        return {}


def busy_seconds(spans: list[tuple[float, float]]) -> float:
    """The length of the union of ``spans``: time counted once however many tasks overlap. In
    Cosmos's watcher mode a model's task (a sensor) spans the group's build it waits for, so the
    plain sum of task times would count that build once per model."""
    total, reach = 0.0, float("-inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def slowest_tasks(windows: dict[str, list[tuple[float, float]]], belongs, count: int
                  ) -> list[tuple[str, float]]:
    """The ``count`` longest tasks of a stage: (task id, seconds of its tries together)."""
    spent = {task: sum(end - start for start, end in spans)
             for task, spans in windows.items() if belongs(task)}
    return sorted(spent.items(), key=lambda item: -item[1])[:count]


def stage_rows(warehouse_url: str, run_id: str) -> dict[str, int]:
    """Rows each stage handled; extract/load counts this run's batches only."""
    import psycopg

    with psycopg.connect(warehouse_url) as conn:
        one = lambda sql, *args: int(conn.execute(sql, args).fetchone()[0] or 0)  # noqa: E731
        marts = sum(one(f'select count(*) from marts."{t}"') for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"))
        loaded = one("select sum(rows_loaded) from raw.load_batches where run_id = %s", run_id)
        return {
            "extract/load": one("select sum(rows_read) from raw.load_batches where run_id = %s",
                                run_id),
            "identity": one("select count(*) from identity.customer_keys"),
            "value": one("select count(*) from value.customer_strategic_values"),
            "dbt": marts,
            "quality": loaded + marts,
            "publish": marts,
            "raw rows": one("select sum(rows_loaded) from raw.load_batches"),
        }


def value_holdout(warehouse_url: str) -> str:
    """The holdout report the DAG's value step wrote for its latest run."""
    import psycopg

    with psycopg.connect(warehouse_url) as conn:
        row = conn.execute(
            "select holdout_report from value.model_runs order by as_of desc limit 1").fetchone()
    if row is None:
        return "no value model run recorded"
    return row[0] or "no holdout check: the order history was too short"


@dataclass
class DayRun:
    """One DAG run of the bench and what it measured."""

    label: str
    day: date
    whole_dag: float
    process: float
    windows: dict[str, list[tuple[float, float]]]
    rows: dict[str, int]
    memory: MemoryPeak
    stage_memory: dict[str, MemoryPeak]
    identity: dict
    identity_trained: bool
    load: str
    holdout: str = ""
    value: dict = field(default_factory=dict)  # the value task's return value

    def stage_seconds(self, stage: str) -> float:
        """Seconds in which at least one of the stage's tasks ran (see busy_seconds)."""
        return busy_seconds([w for task, spans in self.windows.items() if STAGES[stage](task)
                             for w in spans])


@dataclass
class SizeRuns:
    customers: int
    home: Path
    generated: float
    runs: list[DayRun] = field(default_factory=list)


def run_day(label: str, day: date, sampler: MemorySampler, log_dir: Path) -> DayRun:
    from onetoone.foundation import config
    from onetoone.operations.demo import run_daily_dag
    from onetoone.stages.identity import store

    trained = not store.current_model_path().exists()
    started = time.time()
    run_daily_dag(day, log_file=log_dir / f"daily-dag-{day}.log",
                  progress=lambda line: print(line, flush=True))
    ended = time.time()
    airflow_db = config.paths().airflow_home / "airflow.db"
    run_id, windows = task_windows(airflow_db)
    spans = [w for ws in windows.values() for w in ws]
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    stage_memory = {}
    for stage, belongs in STAGES.items():
        stage_spans = [w for task, ws in windows.items() if belongs(task) for w in ws]
        if stage_spans:
            stage_memory[stage] = sampler.peak(min(s for s, _ in stage_spans),
                                               max(e for _, e in stage_spans))
    from onetoone.operations.pipeline import interval_run_id

    return DayRun(label, day, last - first, ended - started, windows,
                  stage_rows(config.warehouse_url(),
                             interval_run_id(datetime.combine(day, datetime.min.time()))),
                  sampler.peak(started, ended), stage_memory,
                  task_result(airflow_db, run_id, "identify"), trained, load_averages(),
                  value_holdout(config.warehouse_url()), task_result(airflow_db, run_id, "value"))


def measure(customers: int, seed: int, days: int, home: Path, *, increment: bool) -> SizeRuns:
    """Generate ``customers`` into a fresh state folder, run the full day, then (``increment``)
    the next day, and stop that folder's server unless it is the one given by ``--home``."""
    os.environ["ONETOONE_HOME"] = str(home)
    from onetoone.foundation import config
    from onetoone.operations.demo import DEMO_END_DATE, prepare_sample
    from onetoone.runtime import warehouse
    from onetoone.runtime.airflow_env import ensure_airflow_db
    from onetoone.runtime.dbt import parse_project

    status = warehouse.start()
    started = time.monotonic()
    prepare_sample(customers, seed, days=days)
    size = SizeRuns(customers, home, time.monotonic() - started)
    parse_project()
    ensure_airflow_db()
    log_dir = home / "bench-logs"
    sampler = MemorySampler(status.pid)
    sampler.start()
    try:
        days_to_run = [("full day", DEMO_END_DATE)]
        if increment:
            days_to_run.append(("increment", DEMO_END_DATE + timedelta(days=1)))
        for label, day in days_to_run:
            print(f"== {customers:,} customers: {label} ({day}), {load_averages()}", flush=True)
            size.runs.append(run_day(label, day, sampler, log_dir))
            # As soon as it is known: a long run stopped later still leaves its figures.
            print_run(size, size.runs[-1], days)
    finally:
        sampler.stop()
    print(f"state folder: {config.paths().home}")
    return size


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT MET"


def print_run(size: SizeRuns, run: DayRun, days: int) -> None:
    print(f"\n== onetoone pipeline benchmark: {size.customers:,} customers, {days} days:"
          f" {run.label} {run.day} ({run.load} at its end) ==")
    if run is size.runs[0]:
        print(f"generate + load ERP source: {size.generated:.1f} s")
    print(f"{'stage':<14}{'tasks':>6}{'wall s':>9}{'task s':>9}{'busy s':>9}{'rows':>12}"
          f"{'rows/s':>11}{'RSS MB':>9}{'+pg PSS MB':>12}")
    for stage, belongs in STAGES.items():
        spans = [w for task, ws in run.windows.items() if belongs(task) for w in ws]
        if not spans:
            continue
        first, last = min(s for s, _ in spans), max(e for _, e in spans)
        task_time = sum(e - s for s, e in spans)
        wall = last - first
        peak = run.stage_memory[stage]
        print(f"{stage:<14}{len(spans):>6}{wall:>9.1f}{task_time:>9.1f}{busy_seconds(spans):>9.1f}"
              f"{run.rows[stage]:>12,}"
              f"{run.rows[stage] / wall if wall else 0:>11,.0f}"
              f"{peak.airflow_rss / 2**20:>9,.0f}{peak.together_pss / 2**20:>12,.0f}")
    rows = run.rows["extract/load"]
    print(f"{'whole DAG':<14}{sum(map(len, run.windows.values())):>6}{run.whole_dag:>9.1f}"
          f"{'':>18}{rows:>12,}{rows / run.whole_dag:>11,.0f}"
          f"{run.memory.airflow_rss / 2**20:>9,.0f}{run.memory.together_pss / 2**20:>12,.0f}")
    print(f"(wall s: first task start to last task end of the stage; task s: sum of task times;"
          f" busy s: time in which at least one of the stage's tasks ran, what the ratios use;"
          f" rows: rows read this run for extract/load and the whole DAG, records keyed for"
          f" identity, customers scored for value, mart rows for dbt and publish, rows loaded"
          f" this run + mart rows for quality; `airflow dags test` with its start took"
          f" {run.process:.1f} s)")
    scored = run.identity.get("records_scored")
    print(f"identity: {'trained a model, then ' if run.identity_trained else ''}"
          f"{run.identity.get('scoring', '?')} scoring"
          + (f", {scored:,} of {run.rows['identity']:,} records scored" if scored is not None
             else ""))
    if run.value.get("fit"):
        print(f"value: {run.value['fit']} the model ({run.value.get('fit_reason')}; fit of"
              f" {run.value.get('fit_calibration_end')}), model work"
              f" {run.value.get('model_seconds', 0):.1f} s for {run.value['customers']:,}"
              " customers")
    print(f"memory peak: Airflow tree RSS {run.memory.airflow_rss / GB:.2f} GB;"
          f" PSS: Airflow tree {run.memory.airflow_pss / GB:.2f} GB, PostgreSQL server"
          f" {run.memory.postgres_pss / GB:.2f} GB, together {run.memory.together_pss / GB:.2f}"
          " GB (peak of the sum)")
    print("slowest dbt tasks (a group's build or tests; a model's task spans the build it"
          " waits for, its own time is in the build's log):")
    for task, seconds in slowest_tasks(run.windows, STAGES["dbt"], DBT_TASKS_SHOWN):
        print(f"  {task:<64}{seconds:>8.1f} s")


def print_stage_ratios(run: DayRun, against: DayRun, *, as_share: bool) -> None:
    """Each stage's seconds in ``run`` over those in ``against``: a ratio, or a share."""
    for stage in STAGES:
        part, whole = run.stage_seconds(stage), against.stage_seconds(stage)
        if whole:
            ratio = f"{part / whole:>6.1%}" if as_share else f"{part / whole:>6.2f}"
            print(f"  {stage:<14}{part:>9.1f} s / {whole:>7.1f} s = {ratio}")


def print_goals(main: SizeRuns, compare: SizeRuns | None) -> None:
    full = main.runs[0]
    n = f"{main.customers:,} customers"
    print(f"\n== goals (issue #12), {n} ==")
    identity = full.stage_seconds("identity")
    ratio = full.whole_dag / identity if identity else float("inf")
    print(f"whole DAG / identity step: {full.whole_dag:.1f} s / {identity:.1f} s = {ratio:.2f}"
          f"  (goal <= {WHOLE_DAG_PER_IDENTITY} at 100,000 customers): "
          f"{verdict(ratio <= WHOLE_DAG_PER_IDENTITY)}"
          + ("  [identity trained its model in this run]" if full.identity_trained else ""))
    if compare is not None:
        small = compare.runs[0]
        size_ratio = main.customers / compare.customers
        allowed = LINEAR_SLACK * size_ratio
        growth = full.whole_dag / small.whole_dag
        print(f"whole DAG {n} / {compare.customers:,}: {full.whole_dag:.1f} s / "
              f"{small.whole_dag:.1f} s = {growth:.2f} for {size_ratio:.1f} times the customers"
              f"  (goal <= {allowed:.1f}, 12 for 100,000 / 10,000): {verdict(growth <= allowed)}")
        print_stage_ratios(full, small, as_share=False)
    peak = max(run.memory.together_pss for run in main.runs)
    print(f"peak memory, Airflow tree + PostgreSQL server (PSS): {peak / GB:.2f} GB (Airflow "
          f"{max(r.memory.airflow_pss for r in main.runs) / GB:.2f} GB, PostgreSQL "
          f"{max(r.memory.postgres_pss for r in main.runs) / GB:.2f} GB; Airflow tree RSS "
          f"{max(r.memory.airflow_rss for r in main.runs) / GB:.2f} GB)"
          f"  (goal <= {PEAK_MEMORY_BYTES / GB:.0f} GB at 500,000 customers, about a million"
          f" records; {full.rows['identity']:,} here): {verdict(peak <= PEAK_MEMORY_BYTES)}")
    if len(main.runs) > 1:
        increment = main.runs[1]
        share = increment.whole_dag / full.whole_dag
        loaded = increment.rows["quality"] - increment.rows["dbt"]
        print(f"increment / full day: {increment.whole_dag:.1f} s / {full.whole_dag:.1f} s ="
              f" {share:.1%} (the increment loaded {loaded:,} rows, "
              f"{loaded / max(increment.rows['raw rows'], 1):.2%} of the raw layer)"
              f"  (goal <= {INCREMENT_SHARE:.0%}): {verdict(share <= INCREMENT_SHARE)}")
        print_stage_ratios(increment, full, as_share=True)
    print(f"({load_averages()} at the end)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--compare-customers", type=int,
                        help="also run this size (its full day, first) for the linearity goal")
    parser.add_argument("--increment", action=argparse.BooleanOptionalAction, default=True,
                        help="after the full day, run the next day's increment (default: yes)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--home", type=Path,
                        help="state folder of the main size (default: a temporary one; the"
                             " compared size gets a folder beside it)")
    args = parser.parse_args(argv)

    home = args.home or Path(tempfile.mkdtemp(prefix="onetoone-bench-"))
    compare = None
    if args.compare_customers:
        compare_home = home.with_name(f"{home.name}-{args.compare_customers}")
        compare = measure(args.compare_customers, args.seed, args.days, compare_home,
                          increment=False)
        _stop_server(compare_home)
    main_size = measure(args.customers, args.seed, args.days, home, increment=args.increment)
    print("\n\n== all runs, for reading together ==")
    if compare is not None:
        print_run(compare, compare.runs[0], args.days)
    for run in main_size.runs:
        print_run(main_size, run, args.days)
    print("\nvalue model on the full day's keyed orders, from value.model_runs:")
    print(main_size.runs[0].holdout)
    print_goals(main_size, compare)
    print(f"state folder: {home}  (stop its server with ONETOONE_HOME={home} onetoone warehouse"
          " stop)")
    if args.home is None:
        _stop_server(home)


def _stop_server(home: Path) -> None:
    os.environ["ONETOONE_HOME"] = str(home)
    from onetoone.runtime import warehouse

    warehouse.stop()


if __name__ == "__main__":
    main()
