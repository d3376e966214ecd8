"""`make demo`: a sample of customers through the real pipeline (embedded PostgreSQL, the Airflow
DAG, dbt by Cosmos, Splink, Great Expectations), then a summary of what came out."""

from __future__ import annotations

import json
import shutil
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import psycopg

from onetoone.foundation import config
from onetoone.generate import generate
from onetoone.generate.erp_source import load_erp_source
from onetoone.operations.migrate import migrate_warehouse
from onetoone.runtime import warehouse
from onetoone.runtime.airflow_env import ensure_airflow_db, run_airflow
from onetoone.runtime.dbt import parse_project, run_dbt

DEMO_END_DATE = date(2026, 10, 31)
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


def run_daily_dag(logical_date: date) -> None:
    ensure_airflow_db()
    result = run_airflow(["dags", "test", DAILY_DAG, logical_date.isoformat()], check=False)
    if result.returncode != 0:
        raise RuntimeError(f"the {DAILY_DAG} DAG run failed (exit {result.returncode}); "
                           "its task logs are above")


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
    p = config.paths()
    lines += [
        "",
        "marts are in schema `marts` of database `onetoone`; query them with:",
        f"  {warehouse.psql_command()} -c 'select * from marts.dim_customers limit 5'",
        f"Data Docs:  {p.data_docs / 'index.html'}",
        f"dbt docs:   {p.dbt_target / 'static_index.html'}",
    ]
    return "\n".join(lines)


def run_demo(customers: int, seed: int) -> int:
    started = time.monotonic()
    print(warehouse.start().describe())
    landing = prepare_sample(customers, seed)
    print(f"sample: {customers} customers (seed {seed}) in {landing}")
    migrate_warehouse(config.warehouse_url())
    parse_project()
    try:
        run_daily_dag(DEMO_END_DATE + timedelta(days=1))
    except RuntimeError as err:
        print(f"demo failed: {err}", file=sys.stderr)
        return 1
    run_dbt(["docs", "generate", "--static", "--quiet"])
    print("\n== onetoone demo ==")
    print(summary(landing))
    print(f"\ndemo finished in {time.monotonic() - started:.0f} s")
    return 0
