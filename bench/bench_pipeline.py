"""Benchmark of the whole pipeline: generate a sample, run the daily DAG through Airflow, and
print per stage (extract/load, identity, value, dbt, quality) wall time, rows per second and peak
memory, the slowest dbt models, then the value model's holdout check of that run (predicted
against actual repeat purchases and revenue over the days held out, from `value.model_runs`).

    .venv/bin/python bench/bench_pipeline.py --customers 100000     (or: make bench CUSTOMERS=...)

It uses its own state folder (a fresh embedded warehouse), so it never touches the demo's.
Stage times come from Airflow's own task records; memory is the resident set of the Airflow
process tree (tasks run inside it under `airflow dags test`), sampled every 0.2 s. PostgreSQL's
own processes are not counted. Machines here are noisy: compare figures from one run.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import tempfile
import threading
import time
from collections import defaultdict
from datetime import datetime
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


class MemorySampler(threading.Thread):
    """Samples the RSS of this process and its children: (time, bytes) pairs."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.samples: list[tuple[float, int]] = []
        self._stopping = threading.Event()

    def run(self) -> None:
        me = psutil.Process()
        while not self._stopping.is_set():
            total = 0
            for proc in [me, *me.children(recursive=True)]:
                try:
                    if proc.name() != "postgres":
                        total += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.samples.append((time.time(), total))
            self._stopping.wait(0.2)

    def stop(self) -> None:
        self._stopping.set()
        self.join()

    def peak(self, start: float, end: float) -> int:
        return max((rss for t, rss in self.samples if start <= t <= end), default=0)


def task_windows(airflow_db: Path) -> dict[str, list[tuple[float, float]]]:
    """(start, end) of every task try of the last run, by task id, from Airflow's database."""
    with sqlite3.connect(airflow_db) as conn:
        rows = conn.execute(
            "select task_id, start_date, end_date from task_instance"
            " where run_id = (select run_id from dag_run order by id desc limit 1)"
            " and start_date is not null").fetchall()
    windows = defaultdict(list)
    for task_id, start, end in rows:
        windows[task_id].append((datetime.fromisoformat(start).timestamp(),
                                 datetime.fromisoformat(end).timestamp()))
    return windows


def slowest_tasks(windows: dict[str, list[tuple[float, float]]], belongs, count: int
                  ) -> list[tuple[str, float]]:
    """The ``count`` longest tasks of a stage: (task id, seconds of its tries together)."""
    spent = {task: sum(end - start for start, end in spans)
             for task, spans in windows.items() if belongs(task)}
    return sorted(spent.items(), key=lambda item: -item[1])[:count]


def stage_rows(warehouse_url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(warehouse_url) as conn:
        one = lambda sql: int(conn.execute(sql).fetchone()[0] or 0)  # noqa: E731
        marts = sum(one(f'select count(*) from marts."{t}"') for (t,) in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"))
        return {
            "extract/load": one("select sum(rows_read) from raw.load_batches"),
            "identity": one("select count(*) from identity.customer_keys"),
            "value": one("select count(*) from value.customer_strategic_values"),
            "dbt": marts,
            "quality": one("select sum(rows_loaded) from raw.load_batches") + marts,
            "publish": marts,
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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--home", type=Path, help="state folder (default: a temporary one)")
    args = parser.parse_args(argv)

    home = args.home or Path(tempfile.mkdtemp(prefix="onetoone-bench-"))
    os.environ["ONETOONE_HOME"] = str(home)
    from onetoone.foundation import config
    from onetoone.operations.demo import DEMO_END_DATE, prepare_sample, run_daily_dag
    from onetoone.runtime import warehouse
    from onetoone.runtime.dbt import parse_project

    warehouse.start()
    started = time.monotonic()
    prepare_sample(args.customers, args.seed, days=args.days)
    generated = time.monotonic() - started
    parse_project()
    from datetime import timedelta

    from onetoone.runtime.airflow_env import ensure_airflow_db

    ensure_airflow_db()
    sampler = MemorySampler()
    sampler.start()
    run_started = time.time()
    try:
        run_daily_dag(DEMO_END_DATE + timedelta(days=1))
    finally:
        run_ended = time.time()
        sampler.stop()

    windows = task_windows(config.paths().airflow_home / "airflow.db")
    rows = stage_rows(config.warehouse_url())
    print(f"\n== onetoone pipeline benchmark: {args.customers:,} customers, {args.days} days ==")
    print(f"generate + load ERP source: {generated:.1f} s")
    print(f"{'stage':<14}{'tasks':>6}{'wall s':>9}{'task s':>9}{'rows':>12}{'rows/s':>11}"
          f"{'peak MB':>9}")
    for stage, belongs in STAGES.items():
        spans = [w for task, ws in windows.items() if belongs(task) for w in ws]
        if not spans:
            continue
        first, last = min(s for s, _ in spans), max(e for _, e in spans)
        busy = sum(e - s for s, e in spans)
        wall = last - first
        print(f"{stage:<14}{len(spans):>6}{wall:>9.1f}{busy:>9.1f}{rows[stage]:>12,}"
              f"{rows[stage] / wall if wall else 0:>11,.0f}"
              f"{sampler.peak(first, last) / 2**20:>9,.0f}")
    total = run_ended - run_started
    print(f"{'whole DAG run':<14}{sum(map(len, windows.values())):>6}{total:>9.1f}{'':>9}"
          f"{rows['extract/load']:>12,}{rows['extract/load'] / total:>11,.0f}"
          f"{sampler.peak(run_started, run_ended) / 2**20:>9,.0f}")
    print("(wall s: first task start to last task end of the stage; task s: sum of task times;"
          " rows: rows read for extract/load and the whole run, records keyed for identity,"
          " customers scored for value, mart rows for dbt and publish, raw + mart rows validated"
          " for quality)")
    print("\nslowest dbt tasks (a model built and tested; one that grows faster than its input"
          " shows here first):")
    for task, seconds in slowest_tasks(windows, STAGES["dbt"], DBT_TASKS_SHOWN):
        print(f"  {task:<64}{seconds:>8.1f} s")
    print("\nvalue model (BG/NBD + Gamma-Gamma) on this run's keyed orders, from value.model_runs:")
    print(value_holdout(config.warehouse_url()))
    print(f"state folder: {home}  (stop its server with ONETOONE_HOME={home} onetoone warehouse"
          " stop)")
    if args.home is None:
        warehouse.stop()


if __name__ == "__main__":
    main()
