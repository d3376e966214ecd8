"""Fit the value model on the transactions up to a calibration end, score every customer seen
by then and, when the data go on past it, check the predictions against what happened.

The purchase model is the one that wins the backtest inside the calibration window (see
`selection`); it is then refitted on the whole window."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from onetoone.stages.value.hybrid import with_events
from onetoone.stages.value.io import ValueInputError
from onetoone.stages.value.model import (
    DEFAULT_ANNUAL_DISCOUNT_RATE,
    DEFAULT_CLV_MONTHS,
    DEFAULT_PENALIZER,
    BetaGeometricNBD,
    GammaGamma,
    ModelFitError,
    ValueModel,
)
from onetoone.stages.value.report import HoldoutReport, holdout_report
from onetoone.stages.value.rfm import holdout_actuals, rfm_summary
from onetoone.stages.value.selection import Backtest, choose_model

OUTPUT_COLUMNS = ("expected_purchases", "expected_value", "probability_alive", "clv")


@dataclass(frozen=True)
class ValueRun:
    model: ValueModel
    predictions: pd.DataFrame  # indexed by customer_id, OUTPUT_COLUMNS
    report: HoldoutReport | None  # None when nothing happened after the calibration end
    fit_seconds: float  # the backtest and the final fit
    backtest: Backtest | None  # None when the window is too short to split: BG/NBD is used


def score_transactions(transactions: pd.DataFrame, calibration_end: pd.Timestamp,
                       horizon_days: int,
                       annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE,
                       clv_months: int = DEFAULT_CLV_MONTHS,
                       customer_events: pd.DataFrame | None = None) -> ValueRun:
    """Score `transactions` (validated, as from `read_transactions`): only occasions on or
    before `calibration_end` reach the model; predictions cover the `horizon_days` after it.
    The holdout check uses the days after the calibration end that the data cover, at most
    the horizon. `customer_events` (`customer_id`, `event_date`, `event`: what else the
    warehouse knows, see `hybrid.event_features`) are optional features of the boosted
    correction; only events on or before a cutoff count at that cutoff."""
    if horizon_days < 1:
        raise ValueInputError(f"the horizon must be at least 1 day, not {horizon_days}")
    end = pd.Timestamp(calibration_end).normalize()
    rfm = rfm_summary(transactions, end)
    if rfm.empty:
        raise ValueInputError(f"no transactions on or before the calibration end {end.date()}")
    rfm = with_events(rfm, customer_events, end)

    started = time.perf_counter()
    seen = transactions[transactions["order_date"] <= end]
    backtest = choose_model(seen, end, horizon_days, customer_events=customer_events)
    model = fit_chosen(rfm, backtest)
    fit_seconds = time.perf_counter() - started
    predictions = model.predict(rfm, horizon_days, clv_months, annual_discount_rate)

    report = None
    data_end = transactions["order_date"].max()
    if data_end > end:
        holdout_days = min(horizon_days, (data_end - end).days)
        predicted = (predictions if holdout_days == horizon_days
                     else model.predict(rfm, holdout_days, clv_months, annual_discount_rate))
        actuals = holdout_actuals(transactions, end, holdout_days)
        report = holdout_report(rfm, predicted, actuals, end, holdout_days, horizon_days)
    return ValueRun(model, predictions[list(OUTPUT_COLUMNS)], report, fit_seconds, backtest)


def fit_chosen(rfm: pd.DataFrame, backtest: Backtest | None,
               penalizer: float = DEFAULT_PENALIZER) -> ValueModel:
    """The backtest's winner refitted on the whole calibration window; the correction keeps
    what it learned on the split and applies it to the refitted purchase model."""
    args = (rfm["frequency"], rfm["recency"], rfm["T"], penalizer)
    purchase_class = backtest.purchase_model if backtest else BetaGeometricNBD
    alive = None
    if backtest and backtest.alive_model:
        try:
            alive = backtest.alive_model.fit(*args)
        except ModelFitError:  # then one-time buyers' P(alive) is unknown (NaN)
            alive = None
    return ValueModel(purchase_class.fit(*args),
                      GammaGamma.fit(rfm["frequency"], rfm["monetary_value"], penalizer),
                      correction=backtest.correction if backtest else None, alive=alive)
