"""Fit the value model on the transactions up to a calibration end, score every customer seen
by then and, when the data go on past it, check the predictions against what happened."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd

from onetoone.stages.value.io import ValueInputError
from onetoone.stages.value.model import DEFAULT_ANNUAL_DISCOUNT_RATE, DEFAULT_CLV_MONTHS, ValueModel
from onetoone.stages.value.report import HoldoutReport, holdout_report
from onetoone.stages.value.rfm import holdout_actuals, rfm_summary

OUTPUT_COLUMNS = ("expected_purchases", "expected_value", "probability_alive", "clv")


@dataclass(frozen=True)
class ValueRun:
    model: ValueModel
    predictions: pd.DataFrame  # indexed by customer_id, OUTPUT_COLUMNS
    report: HoldoutReport | None  # None when nothing happened after the calibration end
    fit_seconds: float


def score_transactions(transactions: pd.DataFrame, calibration_end: pd.Timestamp,
                       horizon_days: int,
                       annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE,
                       clv_months: int = DEFAULT_CLV_MONTHS) -> ValueRun:
    """Score `transactions` (validated, as from `read_transactions`): only occasions on or
    before `calibration_end` reach the model; predictions cover the `horizon_days` after it.
    The holdout check uses the days after the calibration end that the data cover, at most
    the horizon."""
    if horizon_days < 1:
        raise ValueInputError(f"the horizon must be at least 1 day, not {horizon_days}")
    end = pd.Timestamp(calibration_end).normalize()
    rfm = rfm_summary(transactions, end)
    if rfm.empty:
        raise ValueInputError(f"no transactions on or before the calibration end {end.date()}")

    started = time.perf_counter()
    model = ValueModel.fit(rfm)
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
    return ValueRun(model, predictions[list(OUTPUT_COLUMNS)], report, fit_seconds)
