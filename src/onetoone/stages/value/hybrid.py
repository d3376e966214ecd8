"""The boosted correction: a gradient-boosted model (scikit-learn's
HistGradientBoostingRegressor) that learns, on a split inside the calibration window, how a
fitted purchase model's expected purchases should be shared out among the customers.

It is trained on the target y / m with weight m and a Poisson loss, where m is the purchase
model's expectation for the customer over the split's holdout days and y what they bought
there: Poisson boosting with log m as offset, so it starts from the purchase model and adds
only what the features explain beyond it. Features are what the classic models ignore or use
only through their own story. From `customer_id, order_date, amount` alone: the first
occasion's value, the repeat occasions' mean value and their number, how regular the gaps
between occasions are (`gap_cv`) and how overdue the customer is (days since the last
occasion over their mean gap), next to the purchase model's own m and P(alive) (which carry
recency and the time since the first purchase). Raw ages (T, recency) are left out on
purpose: at the split every customer is younger than at the calibration end, and trees
cannot extrapolate. When the warehouse knows more about a customer (complaints and their
resolution, calls, web visits, the categories and channels of their orders), it comes as
dated `customer_events` and each kind of event adds two features, counted up to the cutoff
(the split when training, the calibration end when scoring): all of them and those of the
last EVENT_WINDOW_DAYS days.

Shrinkage: the learned factor f is applied as 1 + w (f - 1), w the weight in SHRINK_WEIGHTS
whose out-of-fold squared error is lowest on the split (see `selection`), so a correction
that explains little is pulled towards the purchase model rather than adding noise.

The correction redistributes, it does not rescale: the factors are normalised so that the
corrected expectations of the customers scored add up to the purchase model's. A level
learned on the split does not carry over, because the purchase models' bias depends on how
long a window they were fitted on (on data whose first order tells how long a customer stays,
keeping the level put the total 12 % too high; redistributing alone cut the RMSE by 6 %
with the model's total). The total therefore stays the probabilistic model's.

Seasonality: neither the purchase models nor the correction know the calendar. They assume a
constant purchase rate while a customer is alive, so months the calibration window never saw
(a first Christmas, say) are forecast like the average of the window; only a calibration
window of a year or more averages a season out.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.ensemble import HistGradientBoostingRegressor

from onetoone.stages.value.model import Array, PurchaseModel

FEATURES = ("frequency", "monetary_value", "first_amount", "gap_cv", "overdue",
            "model_expected_purchases", "model_probability_alive")
EVENT_COLUMNS = ("customer_id", "event_date", "event")
EVENT_WINDOW_DAYS = 90
EVENT_PREFIX = "event_"
# A customer's factor is kept within these bounds: a tree leaf of unlucky customers must not
# zero a forecast, nor a lucky one multiply it without end.
FACTOR_BOUNDS = (0.2, 5.0)
MIN_TRAINING_CUSTOMERS = 500
SHRINK_WEIGHTS = (0.25, 0.5, 0.75, 1.0)


def event_features(events: pd.DataFrame | None, cutoff: pd.Timestamp, customers: pd.Index
                   ) -> pd.DataFrame:
    """Per customer in `customers` and kind of event (`events`: `customer_id`, `event_date`,
    `event`), the number of events on or before `cutoff`, all of them and those of the last
    EVENT_WINDOW_DAYS days; empty (no columns) without events."""
    if events is None or events.empty:
        return pd.DataFrame(index=customers)
    end = pd.Timestamp(cutoff).normalize()
    seen = events[events["event_date"] <= end]
    recent = seen[seen["event_date"] > end - pd.Timedelta(days=EVENT_WINDOW_DAYS)]
    kinds = sorted(events["event"].unique())
    frames = []
    for suffix, part in (("", seen), (f"_{EVENT_WINDOW_DAYS}d", recent)):
        counts = (part.groupby(["customer_id", "event"]).size().unstack(fill_value=0)
                  .reindex(columns=kinds, fill_value=0))
        counts.columns = [f"{EVENT_PREFIX}{kind}{suffix}" for kind in kinds]
        frames.append(counts)
    return (pd.concat(frames, axis=1).reindex(customers, fill_value=0)
            .fillna(0).astype(float))


def with_events(rfm: pd.DataFrame, events: pd.DataFrame | None, cutoff: pd.Timestamp
                ) -> pd.DataFrame:
    """`rfm` with the event features as of `cutoff` added as columns."""
    extra = event_features(events, cutoff, rfm.index)
    return rfm.join(extra) if len(extra.columns) else rfm


def correction_features(rfm: pd.DataFrame, purchases: PurchaseModel, horizon_days: float,
                        events: tuple[str, ...] = ()) -> pd.DataFrame:
    args = (rfm["frequency"], rfm["recency"], rfm["T"])
    frequency = rfm["frequency"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_gap = np.where(frequency > 0, rfm["recency"].to_numpy() / frequency, np.nan)
        overdue = (rfm["T"].to_numpy() - rfm["recency"].to_numpy()) / mean_gap
    frame = pd.DataFrame({
        "frequency": rfm["frequency"],
        "monetary_value": rfm["monetary_value"],
        "first_amount": rfm["first_amount"],
        "gap_cv": rfm.get("gap_cv", np.nan),
        "overdue": overdue,
        "model_expected_purchases": purchases.expected_purchases(horizon_days, *args),
        "model_probability_alive": purchases.probability_alive(*args),
    }, index=rfm.index)[list(FEATURES)]
    for name in events:  # a kind of event the customers scored lack counts as none
        frame[name] = rfm[name].to_numpy() if name in rfm else 0.0
    return frame


def _regressor(seed: int) -> HistGradientBoostingRegressor:
    """Small, shrunk trees and early stopping on a fifth of the customers: a correction, not
    a model of its own."""
    return HistGradientBoostingRegressor(
        loss="poisson", learning_rate=0.05, max_iter=100, max_leaf_nodes=8,
        min_samples_leaf=200, l2_regularization=1.0, early_stopping=True,
        validation_fraction=0.2, n_iter_no_change=10, random_state=seed)


@dataclass(frozen=True, eq=False)
class BoostedCorrection:
    """A fitted correction; `horizon_days` is the split's holdout length, the horizon of the
    purchase model's expectation among the features; `events` the event features it uses;
    `weight` the shrinkage towards the purchase model (1: the factor as learned)."""

    regressor: HistGradientBoostingRegressor = field(repr=False)
    horizon_days: float
    events: tuple[str, ...] = ()
    weight: float = 1.0

    name = "boosted correction"

    @classmethod
    def fit(cls, rfm: pd.DataFrame, purchases: PurchaseModel, horizon_days: float,
            actual_purchases: ArrayLike, seed: int = 0, weight: float = 1.0
            ) -> BoostedCorrection:
        """Learn the factor from `rfm` at the split (with any event features as columns, see
        `with_events`), the purchase model fitted there and the purchases each customer made
        in the `horizon_days` after it."""
        events = tuple(c for c in rfm.columns if c.startswith(EVENT_PREFIX))
        features = correction_features(rfm, purchases, horizon_days, events)
        expected = np.maximum(features["model_expected_purchases"].to_numpy(), 1e-9)
        actual = np.asarray(actual_purchases, dtype=float)
        regressor = _regressor(seed).fit(features, actual / expected, sample_weight=expected)
        return cls(regressor, float(horizon_days), events, float(weight))

    def with_weight(self, weight: float) -> BoostedCorrection:
        return BoostedCorrection(self.regressor, self.horizon_days, self.events, float(weight))

    def factor(self, rfm: pd.DataFrame, purchases: PurchaseModel) -> Array:
        """Each customer's factor, shrunk by `weight` and normalised over the customers in
        `rfm` so that the corrected expectations add up to the purchase model's (over
        `horizon_days`)."""
        features = correction_features(rfm, purchases, self.horizon_days, self.events)
        raw = np.clip(self.regressor.predict(features), *FACTOR_BOUNDS)
        raw = 1.0 + self.weight * (raw - 1.0)
        expected = features["model_expected_purchases"].to_numpy()
        corrected_total = float(expected @ raw)
        return raw * (expected.sum() / corrected_total) if corrected_total > 0 else raw

    def describe(self) -> dict:
        return {"trees": int(self.regressor.n_iter_), "horizon_days": self.horizon_days,
                "features": list(FEATURES) + list(self.events), "weight": self.weight}
