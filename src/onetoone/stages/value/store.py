"""The value step of the pipeline: choose and fit the strategic value model on the keyed
transactions that dbt builds, check it on a holdout, and write every customer's strategic value
for dbt to read, with the model that won the backtest and its figures in `value.model_runs`.

The customers' dated events that dbt builds beside the transactions (calls, complaints by
resolution, web visits, returned and cancelled orders) are the boosted correction's extra
features, in the holdout check and in the scoring alike; the backtest keeps the correction only
when it helps. `value.model_runs.customer_events` records how many events of each kind the run
had (counts only)."""

from __future__ import annotations

import json
import logging
import math
from dataclasses import asdict
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg

from onetoone.foundation.db import apply_ddl, read_query, relation_exists
from onetoone.stages.value.model import DEFAULT_ANNUAL_DISCOUNT_RATE, ModelFitError
from onetoone.stages.value.scoring import score_transactions

log = logging.getLogger(__name__)

TRANSACTIONS_RELATION = "intermediate.int_customer_transactions"
EVENTS_RELATION = ("intermediate", "int_customer_events")
SCORING_HORIZON_DAYS = 365
# The holdout check refits on the data before the last HOLDOUT_DAYS and compares predictions
# with what happened; shorter histories use their last third.
HOLDOUT_DAYS = 180


def read_transactions(conn: psycopg.Connection) -> pd.DataFrame:
    query = f"select customer_key as customer_id, order_date, amount from {TRANSACTIONS_RELATION}"
    frame = read_query(conn, query, dtype={"customer_id": str, "amount": float})
    frame["order_date"] = pd.to_datetime(frame["order_date"])
    return frame


def read_events(conn: psycopg.Connection) -> pd.DataFrame | None:
    """The customers' dated events (`customer_id`, `event_date`, `event`) as dbt keyed them;
    None when dbt has not built them (a warehouse older than the model)."""
    schema, name = EVENTS_RELATION
    if not relation_exists(conn, schema, name):
        log.warning("%s.%s does not exist: the value model runs without customer events",
                    schema, name)
        return None
    frame = read_query(conn, f"select customer_key as customer_id, event_date, event"
                             f" from {schema}.{name}",
                       dtype={"customer_id": str, "event": str})
    frame["event_date"] = pd.to_datetime(frame["event_date"])
    return frame


def events_summary(events: pd.DataFrame | None) -> dict | None:
    """What the run knew as events, in counts only: rows, customers and rows per kind."""
    if events is None:
        return None
    kinds = events["event"].value_counts().sort_index()
    return {"rows": len(events), "customers": int(events["customer_id"].nunique()),
            "kinds": {str(kind): int(count) for kind, count in kinds.items()}}


def ensure_schema(conn: psycopg.Connection) -> None:
    apply_ddl(conn, "onetoone.stages.value")


def score_customers(conn: psycopg.Connection, *, run_id: str, as_of: datetime) -> dict:
    """Fit on every transaction before ``as_of``, write one row per customer, and record the
    model and its holdout accuracy in ``value.model_runs``. Reruns replace the run's rows."""
    calibration_end = pd.Timestamp(as_of.date()) - timedelta(days=1)
    transactions = read_transactions(conn)
    if transactions.empty:
        log.warning("no completed orders before %s: no strategic values to write", as_of)
        conn.execute("delete from value.customer_strategic_values")
        return {"customers": 0}
    events = read_events(conn)
    holdout = _holdout_check(transactions, calibration_end, events)
    try:
        scored = score_transactions(transactions, calibration_end, SCORING_HORIZON_DAYS,
                                    customer_events=events)
    except ModelFitError as error:
        # A young warehouse (a few days of orders, hardly a repeat buyer) has nothing to fit:
        # its marts are published without strategic values rather than not at all.
        log.warning("no strategic values this run, the history before %s cannot fit the value"
                    " model: %s", as_of.date(), error)
        conn.execute("delete from value.customer_strategic_values")
        return {"customers": 0, "not_fitted": str(error)}
    predictions = scored.predictions.reset_index()
    model, backtest = scored.model, scored.backtest
    conn.execute("delete from value.customer_strategic_values")
    # as_of_date is the business day the values describe; scored_at the wall clock at write,
    # what freshness measures.
    scored_at = datetime.now(UTC)
    with conn.cursor().copy(
        "copy value.customer_strategic_values (customer_key, as_of_date,"
        " expected_purchases_12m, expected_revenue_12m, probability_alive, clv, model_run_id,"
        " scored_at) from stdin"
    ) as copy:
        for row in predictions.itertuples(index=False):
            alive = float(row.probability_alive)
            copy.write_row((row.customer_id, as_of.date(), float(row.expected_purchases),
                            float(row.expected_value), None if math.isnan(alive) else alive,
                            float(row.clv), run_id, scored_at))
    # the marts read it next: plan them with its new statistics
    conn.execute("analyze value.customer_strategic_values")
    winner = (next(s for s in backtest.scores if s.name == backtest.winner) if backtest
              else None)
    purchase_params = asdict(model.purchases) | (
        {"correction": model.correction.describe()} if model.correction else {})
    report = holdout.report if holdout else None
    summary = events_summary(events)
    conn.execute("delete from value.model_runs where model_run_id = %s", (run_id,))
    conn.execute(
        "insert into value.model_runs (model_run_id, as_of, customers, purchase_params,"
        " spend_params, annual_discount_rate, holdout_calibration_end, holdout_days,"
        " holdout_purchases_ratio, holdout_revenue_ratio, holdout_report, purchase_model,"
        " alive_model, backtest_calibration_end, backtest_days, backtest_rmse,"
        " backtest_aggregate_error, backtest, customer_events)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (run_id, as_of, len(predictions), json.dumps(purchase_params),
         json.dumps(asdict(model.spend)), DEFAULT_ANNUAL_DISCOUNT_RATE,
         report.calibration_end.date() if report else None,
         report.holdout_days if report else None,
         _finite(report.purchases_ratio) if report else None,
         _finite(report.revenue_ratio) if report else None,
         report.text() if report else None,
         model.name, (model.alive or model.purchases).name,
         backtest.calibration_end.date() if backtest else None,
         backtest.holdout_days if backtest else None,
         _finite(winner.rmse) if winner else None,
         _finite(winner.aggregate_error) if winner else None,
         json.dumps(backtest.figures(), allow_nan=False, default=_finite) if backtest
         else None,
         json.dumps(summary) if summary else None))
    result = {"customers": len(predictions), "fit_seconds": round(scored.fit_seconds, 3),
              "purchase_model": model.name,
              "event_rows": summary["rows"] if summary else 0,
              "event_kinds": len(summary["kinds"]) if summary else 0,
              "correction_uses_events": bool(model.correction and model.correction.events)}
    if holdout:
        result |= {"holdout_purchases_ratio": round(holdout.report.purchases_ratio, 3),
                   "holdout_revenue_ratio": round(holdout.report.revenue_ratio, 3)}
        log.info("value model holdout check:\n%s", holdout.report.text())
    log.info("value model customer events (per kind): %s",
             summary["kinds"] if summary else "none")
    if backtest:
        log.info("value model choice:\n%s", backtest.text())
    log.info("value step: %s", result)
    return result


def _holdout_check(transactions: pd.DataFrame, calibration_end: pd.Timestamp,
                   events: pd.DataFrame | None):
    span = (calibration_end - transactions["order_date"].min()).days
    holdout_days = min(HOLDOUT_DAYS, span // 3)
    if holdout_days < 7:
        log.warning("history of %d days is too short for a holdout check", span)
        return None
    seen = transactions[transactions["order_date"] <= calibration_end]
    # Events after a cutoff never count at it (hybrid.event_features): no need to cut them.
    try:
        return score_transactions(seen, calibration_end - timedelta(days=holdout_days),
                                  holdout_days, customer_events=events)
    except ModelFitError as error:
        log.warning("no holdout check: the history before its cutoff cannot fit the model: %s",
                    error)
        return None


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
