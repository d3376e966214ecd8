"""The pipeline's value step on a real warehouse: it records the backtest's winner and figures
in value.model_runs, passes the customers' events on to the correction and records their counts,
writes a probability_alive below 1 for one-time buyers, and the value DDL upgrades a warehouse
made before those columns existed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import psycopg
import pytest

from onetoone.operations.migrate import migrate_warehouse
from onetoone.stages.value.store import score_customers


@pytest.fixture
def keyed_transactions(warehouse_url):
    """intermediate.int_customer_transactions and int_customer_events as dbt would leave them:
    two years of orders of 1,500 customers who buy as a Poisson process and drop out after a
    purchase, most of them after an unresolved complaint, and calls of some of the others."""
    rng = np.random.default_rng(4)
    rows, events = [], []
    for customer in range(1_500):
        key = f"K{customer:05d}"
        day = int(rng.integers(0, 400))
        rate, dropout = rng.gamma(0.6, 1 / 40), rng.beta(1.0, 3.0)
        while day < 730:
            rows.append((key, day, round(float(rng.gamma(3, 20)), 2)))
            if rng.random() < 0.2:
                events.append((key, day + 1, "call"))
            if rng.random() < dropout:
                if rng.random() < 0.7:
                    events.append((key, day + 2, "complaint_unresolved"))
                break
            day += 1 + int(rng.exponential(1 / rate))
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop schema if exists value cascade")
        conn.execute("create schema if not exists intermediate")
        conn.execute("drop table if exists intermediate.int_customer_transactions")
        conn.execute("create table intermediate.int_customer_transactions"
                     " (customer_key text, order_date date, amount numeric)")
        with conn.cursor().copy("copy intermediate.int_customer_transactions from stdin") as copy:
            for key, day, amount in rows:
                copy.write_row((key, date(2024, 1, 1) + timedelta(days=day), amount))
        conn.execute("drop table if exists intermediate.int_customer_events")
        conn.execute("create table intermediate.int_customer_events"
                     " (customer_key text, event_date date, event text)")
        with conn.cursor().copy("copy intermediate.int_customer_events from stdin") as copy:
            for key, day, event in events:
                if day < 730:
                    copy.write_row((key, date(2024, 1, 1) + timedelta(days=day), event))
    migrate_warehouse(warehouse_url)
    yield warehouse_url
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop table intermediate.int_customer_transactions")
        conn.execute("drop table intermediate.int_customer_events")


def test_value_step_records_the_backtest_and_scores_one_time_buyers(keyed_transactions) -> None:
    as_of = datetime(2025, 12, 31, tzinfo=UTC)
    before = datetime.now(UTC)
    with psycopg.connect(keyed_transactions) as conn, conn.transaction():
        result = score_customers(conn, run_id="run-1", as_of=as_of)
    assert result["customers"] > 1_000
    with psycopg.connect(keyed_transactions) as conn:
        # The business date in as_of_date; scored_at, what freshness reads, is the clock.
        dates, scored = conn.execute(
            "select array_agg(distinct as_of_date), min(scored_at)"
            " from value.customer_strategic_values").fetchone()
    assert dates == [as_of.date()] and before <= scored <= datetime.now(UTC)
    with psycopg.connect(keyed_transactions) as conn:
        run = conn.execute(
            "select purchase_model, alive_model, backtest_days, backtest_rmse,"
            " backtest ->> 'winner', jsonb_array_length(backtest -> 'scores')"
            " from value.model_runs where model_run_id = 'run-1'").fetchone()
        purchase_model, alive_model, days, rmse, winner, candidates = run
        assert purchase_model == winner == result["purchase_model"]
        assert alive_model in ("MBG/NBD", "Pareto/NBD")  # BG/NBD cannot tell one-time buyers
        # the 365-day scoring horizon, at most half of the 729 days seen: 364
        assert days == 364 and rmse > 0 and candidates == 4  # three classic + the correction
        # the events dbt keyed reached the correction, and the run says how many of each kind
        offered, recorded, kinds = conn.execute(
            "select backtest -> 'event_features', customer_events,"
            " (select jsonb_object_agg(event, n) from (select event, count(*) as n"
            "  from intermediate.int_customer_events group by event) k)"
            " from value.model_runs where model_run_id = 'run-1'").fetchone()
        assert offered == ["event_call", "event_complaint_unresolved", "event_call_90d",
                           "event_complaint_unresolved_90d"]
        assert recorded["kinds"] == kinds and recorded["rows"] == result["event_rows"] > 0
        assert result["event_kinds"] == 2
        one_time = conn.execute(
            "select count(*), max(probability_alive) from value.customer_strategic_values v"
            " join (select customer_key from intermediate.int_customer_transactions"
            "       group by 1 having count(distinct order_date) = 1) o using (customer_key)"
        ).fetchone()
        assert one_time[0] > 0 and one_time[1] < 1


def test_value_ddl_upgrades_an_older_warehouse(warehouse_url) -> None:
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop schema if exists value cascade")
        conn.execute("""
            create schema value;
            create table value.model_runs (model_run_id text primary key,
                as_of timestamptz not null, customers integer not null,
                purchase_params jsonb not null, spend_params jsonb not null,
                annual_discount_rate numeric not null, holdout_calibration_end date,
                holdout_days integer, holdout_purchases_ratio numeric,
                holdout_revenue_ratio numeric, holdout_report text);
            create table value.customer_strategic_values (customer_key text primary key,
                as_of_date date not null, expected_purchases_12m numeric not null,
                expected_revenue_12m numeric not null, probability_alive numeric not null,
                clv numeric not null, model_run_id text not null,
                scored_at timestamptz not null);
            insert into value.model_runs values ('old', now(), 1, '{}', '{}', 0.1,
                null, null, null, null, null);
        """)
    migrate_warehouse(warehouse_url)
    migrate_warehouse(warehouse_url)  # and again: nothing left to do
    with psycopg.connect(warehouse_url) as conn:
        columns = {name: nullable for name, nullable in conn.execute(
            "select column_name, is_nullable from information_schema.columns"
            " where table_schema = 'value'"
            " and table_name in ('model_runs', 'customer_strategic_values')").fetchall()}
        assert {"purchase_model", "alive_model", "backtest_calibration_end", "backtest_days",
                "backtest_rmse", "backtest_aggregate_error", "backtest",
                "customer_events"} <= set(columns)
        assert columns["probability_alive"] == "YES"
        assert conn.execute("select count(*) from value.model_runs").fetchone()[0] == 1


def test_a_young_warehouse_gets_no_strategic_values_and_a_warning_not_a_failed_run(
        warehouse_url, caplog) -> None:
    """Three customers and one repeat buyer: nothing to fit spend from. The value step writes
    no values and says why, so the day's marts are still published."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("create schema if not exists intermediate")
        conn.execute("drop table if exists intermediate.int_customer_transactions")
        conn.execute("create table intermediate.int_customer_transactions"
                     " (customer_key text, order_date date, amount numeric)")
        conn.execute("insert into intermediate.int_customer_transactions values"
                     " ('K1', '2026-05-01', 10), ('K1', '2026-05-20', 20),"
                     " ('K2', '2026-05-03', 30), ('K3', '2026-06-01', 40)")
    migrate_warehouse(warehouse_url)
    try:
        with psycopg.connect(warehouse_url) as conn, conn.transaction():
            conn.execute("insert into value.customer_strategic_values (customer_key,"
                         " as_of_date, expected_purchases_12m, expected_revenue_12m, clv,"
                         " model_run_id, scored_at) values ('K9', '2026-05-01', 1, 1, 1,"
                         " 'earlier', now())")
            result = score_customers(conn, run_id="young",
                                     as_of=datetime(2026, 7, 1, tzinfo=UTC))
            left = conn.execute("select count(*) from value.customer_strategic_values"
                                ).fetchone()[0]
    finally:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            conn.execute("drop table intermediate.int_customer_transactions")
    assert result["customers"] == 0 and "Gamma-Gamma" in result["not_fitted"]
    assert left == 0, "yesterday's values must not pass for today's"
    assert "no strategic values this run" in caplog.text
