"""The boosted correction's features beyond RFM: dated customer events counted up to each
cutoff, shrinkage towards the purchase model, and the backtest choosing it when events tell
who has left."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from onetoone.stages.value.hybrid import BoostedCorrection, event_features, with_events
from onetoone.stages.value.model import BetaGeometricNBD
from onetoone.stages.value.rfm import holdout_actuals, rfm_summary
from onetoone.stages.value.selection import choose_model


def test_event_features_count_only_up_to_the_cutoff_and_in_the_recent_window() -> None:
    events = pd.DataFrame({
        "customer_id": ["A", "A", "A", "B", "A"],
        "event_date": pd.to_datetime(["2024-01-05", "2024-05-20", "2024-06-29", "2024-06-01",
                                      "2024-07-02"]),  # the last one is after the cutoff
        "event": ["complaint", "complaint", "web_login", "web_login", "complaint"],
    })
    features = event_features(events, pd.Timestamp("2024-06-30"), pd.Index(["A", "B", "C"]))
    assert features.loc["A", "event_complaint"] == 2
    assert features.loc["A", "event_complaint_90d"] == 1  # January is outside the 90 days
    assert features.loc["A", "event_web_login"] == 1
    assert features.loc["B", "event_web_login_90d"] == 1
    assert features.loc["C"].sum() == 0  # a customer without events counts none
    assert event_features(None, pd.Timestamp("2024-06-30"), pd.Index(["A"])).columns.empty


def _simulate(seed: int, n: int = 3000):
    """BG/NBD-like customers, of whom some have an unresolved complaint after which they
    buy no more: an event the purchase history alone does not show at once."""
    rng = np.random.default_rng(seed)
    first = rng.integers(0, 90, n)
    rate = rng.gamma(2.0, 1 / 60, n)
    rows, events = [], []
    for customer in range(n):
        day = int(first[customer])
        while day < 540:
            rows.append((f"C{customer}", day, 20.0))
            if rng.random() < 0.12:  # complains about this order and leaves
                events.append((f"C{customer}", day + 3, "complaint_unresolved"))
                break
            day += 1 + int(rng.exponential(1 / rate[customer]))
    start = pd.Timestamp("2023-01-01")
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "amount"])
    data = frame.assign(order_date=start + pd.to_timedelta(frame.pop("day"), "D"))
    ev = pd.DataFrame(events, columns=["customer_id", "day", "event"])
    ev = ev.assign(event_date=start + pd.to_timedelta(ev.pop("day"), "D"))
    return data, ev


def test_events_that_tell_who_left_make_the_backtest_keep_the_correction() -> None:
    data, events = _simulate(4)
    end = pd.Timestamp("2024-03-31")
    with_ev = choose_model(data, end, 180, customer_events=events)
    without = choose_model(data, end, 180)
    assert with_ev is not None and without is not None
    assert with_ev.correction is not None, with_ev.text()
    assert "event_complaint_unresolved" in with_ev.correction.events
    # what the correction was offered is in the run's figures; nothing without events
    assert with_ev.figures()["event_features"] == ["event_complaint_unresolved",
                                                   "event_complaint_unresolved_90d"]
    assert without.figures()["event_features"] == [] and "event features" not in without.text()
    rmse = {bt.winner: next(s.rmse for s in bt.scores if "correction" in s.name)
            for bt in (with_ev, without)}
    assert rmse[with_ev.winner] < 0.97 * min(s.rmse for s in without.scores)


def test_shrinkage_pulls_the_factor_towards_the_purchase_model() -> None:
    data, events = _simulate(5, n=1500)
    cut = pd.Timestamp("2023-12-31")
    rfm = with_events(rfm_summary(data, cut), events, cut)
    model = BetaGeometricNBD.fit(rfm["frequency"], rfm["recency"], rfm["T"])
    actual = (holdout_actuals(data, cut, 120)["purchases"]
              .reindex(rfm.index, fill_value=0.0).to_numpy())
    correction = BoostedCorrection.fit(rfm, model, 120, actual)
    full = correction.factor(rfm, model)
    half = correction.with_weight(0.5).factor(rfm, model)
    none = correction.with_weight(0.0).factor(rfm, model)
    assert np.allclose(none, 1.0)
    assert 0.3 * full.std() < half.std() < 0.7 * full.std()
    assert correction.with_weight(0.5).describe()["weight"] == pytest.approx(0.5)
