"""The pipeline's value step on a real warehouse: it records the backtest's winner and figures
in value.model_runs, passes the customers' events on to the correction and records their counts,
writes a probability_alive below 1 for one-time buyers, and the value DDL upgrades a warehouse
made before those columns existed. The refit policy: a later day within the refit period scores
with the saved fit, a day past it, an earlier day or new code refits, and a rerun of a day
writes the same value tables."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from onetoone.operations.migrate import migrate_warehouse
from onetoone.stages.value.fits import model_fingerprint
from onetoone.stages.value.hybrid import with_events
from onetoone.stages.value.rfm import rfm_summary
from onetoone.stages.value.scoring import OUTPUT_COLUMNS, score_transactions
from onetoone.stages.value.store import (
    SCORING_HORIZON_DAYS,
    read_events,
    read_transactions,
    score_customers,
)


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
    assert (result["fit"], result["fit_reason"]) == ("refitted", "no saved fit")
    with psycopg.connect(keyed_transactions) as conn:
        # The business date in as_of_date; scored_at, what freshness reads, is the clock.
        dates, scored = conn.execute(
            "select array_agg(distinct as_of_date), min(scored_at)"
            " from value.customer_strategic_values").fetchone()
    assert dates == [as_of.date()] and before <= scored <= datetime.now(UTC)
    with psycopg.connect(keyed_transactions) as conn:
        run = conn.execute(
            "select purchase_model, alive_model, backtest_days, backtest_rmse,"
            " backtest ->> 'winner', jsonb_array_length(backtest -> 'scores'), fit_run_id"
            " from value.model_runs where model_run_id = 'run-1'").fetchone()
        purchase_model, alive_model, days, rmse, winner, candidates, fit_run_id = run
        assert purchase_model == winner == result["purchase_model"] and fit_run_id == "run-1"
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
                "customer_events", "fit_run_id"} <= set(columns)
        assert columns["probability_alive"] == "YES"
        assert conn.execute("select count(*) from value.model_runs").fetchone()[0] == 1
        # no saved fit yet: the next run refits
        assert conn.execute("select count(*) from value.model_fits").fetchone()[0] == 0


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


# The refit policy (stages/value/fits.py): the fixture's orders end on 2025-12-30.
FIRST_DAY = datetime(2025, 12, 31, tzinfo=UTC)  # calibration end 2025-12-30


def _run(url: str, run_id: str, as_of: datetime) -> dict:
    with psycopg.connect(url) as conn, conn.transaction():
        return score_customers(conn, run_id=run_id, as_of=as_of)


def _value_tables(url: str) -> dict[str, list[tuple]]:
    """Every row of the value schema's tables, but the clock at write (scored_at)."""
    with psycopg.connect(url) as conn:
        return {
            "values": conn.execute(
                "select customer_key, as_of_date, expected_purchases_12m, expected_revenue_12m,"
                " probability_alive, clv, model_run_id from value.customer_strategic_values"
                " order by customer_key").fetchall(),
            "runs": conn.execute("select * from value.model_runs order by model_run_id"
                                 ).fetchall(),
            "fits": conn.execute("select * from value.model_fits order by fit_run_id"
                                 ).fetchall(),
        }


def _add_orders(url: str, day: date, customers: int) -> None:
    """The next day's extracts: a repeat order of the first `customers` customers."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("insert into intermediate.int_customer_transactions"
                     " select customer_key, %s, 42.5 from (select distinct customer_key"
                     " from intermediate.int_customer_transactions order by 1 limit %s) c",
                     (day, customers))


def test_a_later_day_within_the_refit_period_scores_with_the_saved_fit(
        keyed_transactions, caplog) -> None:
    first = _run(keyed_transactions, "day-1", FIRST_DAY)
    assert (first["fit"], first["fit_reason"]) == ("refitted", "no saved fit")
    _add_orders(keyed_transactions, date(2026, 1, 2), 100)
    later_day = FIRST_DAY + timedelta(days=6)  # calibration end 2026-01-05: 6 days on
    caplog.set_level(logging.INFO, logger="onetoone.stages.value.store")
    later = _run(keyed_transactions, "day-7", later_day)
    assert later["fit"] == "reused" and later["fit_calibration_end"] == "2025-12-30"
    assert "within the 7-day refit period" in later["fit_reason"]
    assert "reusing the saved fit" in caplog.text and "holdout_purchases_ratio" not in later
    assert later["purchase_model"] == first["purchase_model"]

    # What the first day's fit implies for the later day: the model fitted on the orders up
    # to 2025-12-30, scoring every customer's history up to 2026-01-05.
    with psycopg.connect(keyed_transactions) as conn:
        transactions, events = read_transactions(conn), read_events(conn)
        stored = pd.DataFrame(conn.execute(
            "select customer_key, expected_purchases_12m, expected_revenue_12m,"
            " probability_alive, clv from value.customer_strategic_values"
            " order by customer_key").fetchall(),
            columns=["customer_id", *OUTPUT_COLUMNS]).set_index("customer_id").astype(float)
        runs = dict(conn.execute("select model_run_id, fit_run_id from value.model_runs"
                                 ).fetchall())
        holdouts = conn.execute("select count(distinct holdout_report), count(*)"
                                " from value.model_runs").fetchone()
    first_end, later_end = pd.Timestamp("2025-12-30"), pd.Timestamp("2026-01-05")
    first_fit = score_transactions(transactions, first_end, SCORING_HORIZON_DAYS,
                                   customer_events=events).model
    rfm = with_events(rfm_summary(transactions, later_end), events, later_end)
    implied = first_fit.predict(rfm, SCORING_HORIZON_DAYS)[list(OUTPUT_COLUMNS)]
    assert len(stored) == len(implied) == later["customers"]
    np.testing.assert_allclose(stored.to_numpy(), implied.loc[stored.index].to_numpy(),
                               rtol=1e-12, equal_nan=True)
    # and not what a refit on the later day would have scored
    refit = score_transactions(transactions, later_end, SCORING_HORIZON_DAYS,
                               customer_events=events).predictions
    assert not np.allclose(stored["clv"], refit.loc[stored.index, "clv"], rtol=1e-6)
    # the run is recorded with the fit it used, and that fit's own holdout check
    assert runs == {"day-1": "day-1", "day-7": "day-1"}
    assert holdouts == (1, 2)


def test_the_model_is_refitted_past_the_refit_period_for_an_earlier_day_and_for_new_code(
        keyed_transactions) -> None:
    """And when the saved fit cannot be read back."""
    assert _run(keyed_transactions, "day-1", FIRST_DAY)["fit"] == "refitted"

    week_on = _run(keyed_transactions, "day-8", FIRST_DAY + timedelta(days=7))
    assert week_on["fit"] == "refitted" and week_on["fit_calibration_end"] == "2026-01-06"
    assert "7 days old" in week_on["fit_reason"]

    # both saved fits saw orders after this run's calibration end
    earlier = _run(keyed_transactions, "day-0", FIRST_DAY - timedelta(days=10))
    assert earlier["fit"] == "refitted" and earlier["fit_calibration_end"] == "2025-12-20"
    assert "saw data after this run's calibration end" in earlier["fit_reason"]

    # the saved fits as an older version of the value code left them
    with psycopg.connect(keyed_transactions, autocommit=True) as conn:
        conn.execute("update value.model_fits set fingerprint = 'older-code'")
    new_code = _run(keyed_transactions, "day-8", FIRST_DAY + timedelta(days=7))
    assert new_code["fit"] == "refitted" and "another version" in new_code["fit_reason"]
    with psycopg.connect(keyed_transactions) as conn:
        fits_left = conn.execute("select fit_run_id, calibration_end, fingerprint"
                                 " from value.model_fits").fetchall()
    assert fits_left == [("day-8", date(2026, 1, 6), model_fingerprint())]

    # a saved fit this code cannot read back (parameters it does not know) is refitted
    with psycopg.connect(keyed_transactions, autocommit=True) as conn:
        conn.execute("""update value.model_fits set purchase_params = '{"lambda": 1}'""")
    unreadable = _run(keyed_transactions, "day-8", FIRST_DAY + timedelta(days=7))
    assert unreadable["fit"] == "refitted" and "cannot be read back" in unreadable["fit_reason"]


def test_rerunning_a_day_writes_the_same_value_tables(keyed_transactions) -> None:
    assert _run(keyed_transactions, "day-1", FIRST_DAY)["fit"] == "refitted"
    fitted = _value_tables(keyed_transactions)
    rerun = _run(keyed_transactions, "day-1", FIRST_DAY)
    assert rerun["fit"] == "reused" and rerun["fit_calibration_end"] == "2025-12-30"
    assert _value_tables(keyed_transactions) == fitted

    _add_orders(keyed_transactions, date(2026, 1, 1), 50)
    later_day = FIRST_DAY + timedelta(days=3)
    assert _run(keyed_transactions, "day-4", later_day)["fit"] == "reused"
    scored = _value_tables(keyed_transactions)
    assert scored["values"] != fitted["values"]
    assert _run(keyed_transactions, "day-4", later_day)["fit"] == "reused"
    assert _value_tables(keyed_transactions) == scored
