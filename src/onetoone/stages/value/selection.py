"""Choosing the purchase model by a backtest inside the calibration window.

The calibration window is split once more: every candidate is fitted on the data up to an
inner calibration end and scored on the days between it and the real calibration end, which
the final model will see but the candidates do not. Nothing after the calibration end is used,
so the choice never looks at the holdout.

The candidates are tried from the lightest on: BG/NBD, MBG/NBD, Pareto/NBD, then the boosted
correction on whichever of them is chosen, scored out of fold (trained on two thirds of the
customers, scored on the other third, three times) at each shrinkage weight of
`hybrid.SHRINK_WEIGHTS`, the weight with the lowest out-of-fold squared error kept. A heavier
candidate replaces the current choice only when its gain in squared error per customer is
clearly more than noise (a paired z of at least 2 over the customers); with equal accuracy the
lighter model stays. The correction must also keep the aggregate error no larger than its
base model's, so it can never buy a lower RMSE with a worse total.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from onetoone.stages.value.hybrid import (
    EVENT_PREFIX,
    EVENT_WINDOW_DAYS,
    MIN_TRAINING_CUSTOMERS,
    SHRINK_WEIGHTS,
    BoostedCorrection,
    with_events,
)
from onetoone.stages.value.model import (
    DEFAULT_PENALIZER,
    PURCHASE_MODELS,
    BetaGeometricNBD,
    ModelFitError,
)
from onetoone.stages.value.rfm import holdout_actuals, rfm_summary

MIN_BACKTEST_DAYS = 7
FOLDS = 3
REQUIRED_Z = 2.0


@dataclass(frozen=True)
class CandidateScore:
    """One candidate's figures on the backtest's holdout days."""

    name: str
    rmse: float  # per customer, purchase occasions
    aggregate_error: float  # predicted / actual total occasions - 1
    correlation: float
    fit_seconds: float


@dataclass(frozen=True)
class Backtest:
    calibration_end: pd.Timestamp  # the inner calibration end
    holdout_days: int
    customers: int
    scores: tuple[CandidateScore, ...]
    winner: str
    reason: str
    purchase_model: type  # the winning classic model (the base of the correction)
    correction: BoostedCorrection | None  # trained on the whole split when it won
    alive_model: type | None  # the model for P(alive) when the winner keeps one-time buyers
    # the event features the correction was offered (hybrid.event_features), none without events
    event_features: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [f"Model choice: backtest fitted on data up to {self.calibration_end.date()}, "
                 f"scored on the {self.holdout_days} days after it ({self.customers:,} "
                 "customers; inside the calibration window)",
                 f"  {'model':<36}{'RMSE':>8}{'aggregate':>11}{'correlation':>13}"
                 f"{'fit s':>8}"]
        for score in self.scores:
            mark = "  <- chosen" if score.name == self.winner else ""
            lines.append(f"  {score.name:<36}{score.rmse:>8.3f}{score.aggregate_error:>+11.1%}"
                         f"{score.correlation:>13.3f}{score.fit_seconds:>8.2f}{mark}")
        lines.append(f"  {self.reason}")
        if self.event_features:
            lines.append(f"  the correction was offered {len(self.event_features)} event "
                         f"features ({len(self.event_features) // 2} kinds of event: all of "
                         f"them and those of the last {EVENT_WINDOW_DAYS} days)")
        return "\n".join(lines)

    def figures(self) -> dict:
        """The backtest as plain values, for value.model_runs."""
        return {"calibration_end": self.calibration_end.date().isoformat(),
                "holdout_days": self.holdout_days, "customers": self.customers,
                "winner": self.winner, "reason": self.reason,
                "scores": [score.__dict__ for score in self.scores],
                "event_features": list(self.event_features)}


def backtest_split(transactions: pd.DataFrame, calibration_end: pd.Timestamp,
                   horizon_days: int) -> tuple[pd.Timestamp, int] | None:
    """The inner calibration end and its holdout days: the horizon, at most half the
    calibration window, so the candidates see at least as much history as they predict."""
    end = pd.Timestamp(calibration_end).normalize()
    span = (end - transactions["order_date"].min()).days
    days = min(int(horizon_days), span // 2)
    if days < MIN_BACKTEST_DAYS:
        return None
    return end - pd.Timedelta(days=days), days


def _score(name: str, predicted: np.ndarray, actual: np.ndarray, seconds: float
           ) -> CandidateScore:
    error = predicted - actual
    spread = predicted.std() > 0 and actual.std() > 0
    return CandidateScore(
        name=name, rmse=float(np.sqrt(np.mean(error ** 2))),
        aggregate_error=float(predicted.sum() / actual.sum() - 1) if actual.sum() else np.nan,
        correlation=float(np.corrcoef(predicted, actual)[0, 1]) if spread else np.nan,
        fit_seconds=seconds)


def choose_model(transactions: pd.DataFrame, calibration_end: pd.Timestamp, horizon_days: int,
                 penalizer: float = DEFAULT_PENALIZER,
                 customer_events: pd.DataFrame | None = None) -> Backtest | None:
    """Backtest the candidates on the transactions up to `calibration_end`; None when the
    window is too short to split (the caller then uses BG/NBD). `customer_events` (see
    `hybrid.event_features`) give the correction more features, counted up to the split."""
    split = backtest_split(transactions, calibration_end, horizon_days)
    if split is None:
        return None
    inner_end, days = split
    rfm = with_events(rfm_summary(transactions, inner_end), customer_events, inner_end)
    actual = (holdout_actuals(transactions, inner_end, days)["purchases"]
              .reindex(rfm.index, fill_value=0.0).to_numpy())
    if rfm.empty or actual.sum() == 0:
        return None

    fitted, scores, predictions = {}, [], {}
    for model_class in PURCHASE_MODELS:
        started = time.perf_counter()
        try:
            model = model_class.fit(rfm["frequency"], rfm["recency"], rfm["T"], penalizer)
        except ModelFitError:
            continue
        seconds = time.perf_counter() - started
        predicted = model.expected_purchases(days, rfm["frequency"], rfm["recency"], rfm["T"])
        if not np.all(np.isfinite(predicted)):
            continue
        fitted[model_class], predictions[model_class.name] = model, predicted
        scores.append(_score(model_class.name, predicted, actual, seconds))
    if not scores:
        return None
    chosen = scores[0]
    reasons = [f"{chosen.name} is the lightest"]
    for challenger in scores[1:]:
        z = _paired_z(predictions[chosen.name], predictions[challenger.name], actual)
        if z >= REQUIRED_Z:
            reasons.append(f"{challenger.name} beats {chosen.name} (paired z = {z:.1f})")
            chosen = challenger
        else:
            reasons.append(f"{challenger.name} is not clearly better (paired z = {z:.1f})")
    chosen_class = next(cls for cls in fitted if cls.name == chosen.name)
    alive_model = None
    if chosen_class is BetaGeometricNBD:  # it keeps one-time buyers alive: ask the best other
        others = [score for score in scores if score.name != chosen.name]
        if others:
            alive_name = min(others, key=lambda score: score.rmse).name
            alive_model = next(cls for cls in fitted if cls.name == alive_name)

    winner, correction = chosen.name, None
    if len(rfm) >= MIN_TRAINING_CUSTOMERS and (actual > 0).sum() >= FOLDS:
        base = fitted[chosen_class]
        started = time.perf_counter()
        by_weight = _out_of_fold(rfm, base, days, actual)
        seconds = (time.perf_counter() - started) / FOLDS
        weight = min(by_weight, key=lambda w: float(np.mean((by_weight[w] - actual) ** 2)))
        out_of_fold = by_weight[weight]
        name = f"{chosen.name} + {BoostedCorrection.name}"
        score = _score(name, out_of_fold, actual, seconds)
        scores.append(score)
        z = _paired_z(predictions[chosen.name], out_of_fold, actual)
        total_ok = abs(score.aggregate_error) <= abs(chosen.aggregate_error) + 1e-9
        if z >= REQUIRED_Z and total_ok:
            winner = name
            reasons.append(f"the boosted correction beats it out of fold (paired z = {z:.1f}, "
                           f"shrinkage weight {weight:g})")
            correction = BoostedCorrection.fit(rfm, base, days, actual, weight=weight)
        elif z >= REQUIRED_Z:
            reasons.append(f"the boosted correction lowers the RMSE out of fold (paired z = "
                           f"{z:.1f}) but worsens the aggregate error")
        else:
            reasons.append(f"the boosted correction is not clearly better out of fold "
                           f"(paired z = {z:.1f})")
    else:
        reasons.append("too few customers to train the boosted correction")
    reason = "; ".join(reasons) + f"; a heavier model needs z >= {REQUIRED_Z:g}"
    event_features = tuple(c for c in rfm.columns if c.startswith(EVENT_PREFIX))
    return Backtest(inner_end, days, len(rfm), tuple(scores), winner, reason, chosen_class,
                    correction, alive_model, event_features)


def _paired_z(current: np.ndarray, challenger: np.ndarray, actual: np.ndarray) -> float:
    """How many standard errors the challenger's mean squared-error gain per customer is
    above zero."""
    gain = (current - actual) ** 2 - (challenger - actual) ** 2
    spread = gain.std(ddof=1)
    return float(gain.mean() / (spread / np.sqrt(gain.size))) if spread > 0 else 0.0


def _out_of_fold(rfm: pd.DataFrame, base, days: int, actual: np.ndarray
                 ) -> dict[float, np.ndarray]:
    """Per shrinkage weight, each customer's corrected expectation from a correction trained
    without them."""
    base_expected = base.expected_purchases(days, rfm["frequency"], rfm["recency"], rfm["T"])
    fold = np.random.default_rng(0).permutation(len(rfm)) % FOLDS
    corrected = {weight: np.empty(len(rfm)) for weight in SHRINK_WEIGHTS}
    for k in range(FOLDS):
        train, test = fold != k, fold == k
        correction = BoostedCorrection.fit(rfm[train], base, days, actual[train], seed=k)
        for weight, values in corrected.items():
            values[test] = (base_expected[test]
                            * correction.with_weight(weight).factor(rfm[test], base))
    return corrected
