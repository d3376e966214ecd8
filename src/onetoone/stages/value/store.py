"""The value step of the pipeline: choose and fit the strategic value model on the keyed
transactions that dbt builds, check it on a holdout, and write every customer's strategic value
for dbt to read, with the model that won the backtest and its figures in `value.model_runs`.
Between refits the step scores with the saved fit (`fits`: the refit policy).

The customers' dated events that dbt builds beside the transactions (calls, complaints by
resolution, web visits, returned and cancelled orders) are the boosted correction's extra
features, in the holdout check and in the scoring alike; the backtest keeps the correction only
when it helps. `value.model_runs.customer_events` records how many events of each kind the run
had (counts only)."""

from __future__ import annotations

import json
import logging
import math
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd
import psycopg
from psycopg.types.json import Jsonb

from onetoone.foundation.db import apply_ddl, read_query, relation_exists
from onetoone.stages.value import fits
from onetoone.stages.value.hybrid import with_events
from onetoone.stages.value.model import DEFAULT_ANNUAL_DISCOUNT_RATE, ModelFitError, ValueModel
from onetoone.stages.value.rfm import rfm_summary
from onetoone.stages.value.scoring import OUTPUT_COLUMNS, ValueRun, score_transactions
from onetoone.stages.value.selection import Backtest

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
    """Write one row per customer with a transaction before ``as_of`` and record the run in
    ``value.model_runs``. The model is chosen, fitted and checked on a holdout only when the
    refit policy asks for it (`fits.decide`: no saved fit of this code, an earlier interval, or
    one `fits.REFIT_EVERY` old); otherwise the saved fit scores. Reruns replace the run's
    rows, and a rerun of a day finds the fit it used before."""
    calibration_end = pd.Timestamp(as_of.date()) - timedelta(days=1)
    transactions = read_transactions(conn)
    if transactions.empty:
        log.warning("no completed orders before %s: no strategic values to write", as_of)
        conn.execute("delete from value.customer_strategic_values")
        return {"customers": 0}
    events = read_events(conn)
    fingerprint = fits.model_fingerprint()
    decision = fits.decide(conn, calibration_end.date(), fingerprint)
    log.info("value model: %s: %s", "refit" if decision.refit else "reusing the saved fit",
             decision.reason)
    started = time.perf_counter()
    if decision.refit:
        try:
            fitted = _fit(transactions, calibration_end, events)
        except ModelFitError as error:
            # A young warehouse (a few days of orders, hardly a repeat buyer) has nothing to
            # fit: its marts are published without strategic values rather than not at all.
            log.warning("no strategic values this run, the history before %s cannot fit the"
                        " value model: %s", as_of.date(), error)
            conn.execute("delete from value.customer_strategic_values")
            return {"customers": 0, "not_fitted": str(error), "fit": "refitted",
                    "fit_reason": decision.reason}
        model, predictions, figures = fitted.model, fitted.predictions, fitted.figures
        fits.save_fit(conn, fit_run_id=run_id, calibration_end=calibration_end.date(),
                      fingerprint=fingerprint, model=model)
        fit_run_id, fit_end = run_id, calibration_end.date()
    else:
        saved = decision.saved
        model, fit_run_id, fit_end = saved.model, saved.fit_run_id, saved.calibration_end
        # The fit's own figures (its holdout check and backtest) describe the model scoring.
        figures = _fit_figures(conn, fit_run_id, model)
        rfm = with_events(rfm_summary(transactions, calibration_end), events, calibration_end)
        predictions = model.predict(rfm, SCORING_HORIZON_DAYS)[list(OUTPUT_COLUMNS)]
    model_seconds = time.perf_counter() - started
    predictions = predictions.reset_index()
    _write_values(conn, predictions, run_id=run_id, as_of=as_of)
    summary = events_summary(events)
    conn.execute("delete from value.model_runs where model_run_id = %s", (run_id,))
    columns = ("model_run_id", "as_of", "customers", "customer_events", "fit_run_id",
               *figures)
    conn.execute(
        f"insert into value.model_runs ({', '.join(columns)})"
        f" values ({', '.join(['%s'] * len(columns))})",
        (run_id, as_of, len(predictions), Jsonb(summary) if summary else None, fit_run_id,
         *figures.values()))
    result = {"customers": len(predictions),
              "fit": "refitted" if decision.refit else "reused",
              "fit_reason": decision.reason, "fit_calibration_end": fit_end.isoformat(),
              "model_seconds": round(model_seconds, 3),
              "purchase_model": model.name,
              "event_rows": summary["rows"] if summary else 0,
              "event_kinds": len(summary["kinds"]) if summary else 0,
              "correction_uses_events": bool(model.correction and model.correction.events)}
    if decision.refit:
        holdout = fitted.holdout
        result["fit_seconds"] = round(fitted.fit_seconds, 3)
        if holdout:
            result |= {"holdout_purchases_ratio": round(holdout.report.purchases_ratio, 3),
                       "holdout_revenue_ratio": round(holdout.report.revenue_ratio, 3)}
            log.info("value model holdout check:\n%s", holdout.report.text())
        if fitted.backtest:
            log.info("value model choice:\n%s", fitted.backtest.text())
    log.info("value model customer events (per kind): %s",
             summary["kinds"] if summary else "none")
    log.info("value step: %s", result)
    return result


@dataclass(frozen=True)
class _Fitted:
    model: ValueModel
    predictions: pd.DataFrame  # indexed by customer_id, OUTPUT_COLUMNS
    holdout: ValueRun | None
    backtest: Backtest | None
    fit_seconds: float
    figures: dict  # value.model_runs' columns that describe the fit


def _fit(transactions: pd.DataFrame, calibration_end: pd.Timestamp,
         events: pd.DataFrame | None) -> _Fitted:
    """Check the model on a holdout, choose it by the backtest and fit it: what a refit is."""
    holdout = _holdout_check(transactions, calibration_end, events)
    scored = score_transactions(transactions, calibration_end, SCORING_HORIZON_DAYS,
                                customer_events=events)
    model, backtest = scored.model, scored.backtest
    winner = (next(s for s in backtest.scores if s.name == backtest.winner) if backtest
              else None)
    purchase_params = asdict(model.purchases) | (
        {"correction": model.correction.describe()} if model.correction else {})
    report = holdout.report if holdout else None
    figures = {
        "purchase_params": Jsonb(purchase_params),
        "spend_params": Jsonb(asdict(model.spend)),
        "annual_discount_rate": DEFAULT_ANNUAL_DISCOUNT_RATE,
        "holdout_calibration_end": report.calibration_end.date() if report else None,
        "holdout_days": report.holdout_days if report else None,
        "holdout_purchases_ratio": _finite(report.purchases_ratio) if report else None,
        "holdout_revenue_ratio": _finite(report.revenue_ratio) if report else None,
        "holdout_report": report.text() if report else None,
        "purchase_model": model.name,
        "alive_model": (model.alive or model.purchases).name,
        "backtest_calibration_end": backtest.calibration_end.date() if backtest else None,
        "backtest_days": backtest.holdout_days if backtest else None,
        "backtest_rmse": _finite(winner.rmse) if winner else None,
        "backtest_aggregate_error": _finite(winner.aggregate_error) if winner else None,
        "backtest": Jsonb(backtest.figures(), dumps=_strict_json) if backtest else None,
    }
    return _Fitted(model, scored.predictions, holdout, backtest, scored.fit_seconds, figures)


def _fit_figures(conn: psycopg.Connection, fit_run_id: str, model: ValueModel) -> dict:
    """The fitting run's figures as value.model_runs recorded them; the saved parameters
    alone when that row is gone."""
    names = list(_FIT_FIGURES)
    row = conn.execute(f"select {', '.join(names)} from value.model_runs"
                       " where model_run_id = %s", (fit_run_id,)).fetchone()
    if row is None:
        return {"purchase_params": Jsonb(asdict(model.purchases)),
                "spend_params": Jsonb(asdict(model.spend)),
                "annual_discount_rate": DEFAULT_ANNUAL_DISCOUNT_RATE,
                "purchase_model": model.name,
                "alive_model": (model.alive or model.purchases).name}
    return {name: Jsonb(value) if name in _JSON_FIGURES and value is not None else value
            for name, value in zip(names, row, strict=True)}


_FIT_FIGURES = ("purchase_params", "spend_params", "annual_discount_rate",
                "holdout_calibration_end", "holdout_days", "holdout_purchases_ratio",
                "holdout_revenue_ratio", "holdout_report", "purchase_model", "alive_model",
                "backtest_calibration_end", "backtest_days", "backtest_rmse",
                "backtest_aggregate_error", "backtest")
_JSON_FIGURES = {"purchase_params", "spend_params", "backtest"}


def _write_values(conn: psycopg.Connection, predictions: pd.DataFrame, *, run_id: str,
                  as_of: datetime) -> None:
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


def _strict_json(value) -> str:
    return json.dumps(value, allow_nan=False, default=_finite)
