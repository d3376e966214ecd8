"""Recency-frequency-monetary summaries of a transactions table, split at a calibration end.

All durations are in days. A purchase occasion is one customer's purchases on one calendar
day (their amounts added up): BG/NBD counts occasions, and several orders placed on the same
day are one shopping trip rather than evidence of a higher purchase rate.
"""

from __future__ import annotations

import pandas as pd


def purchase_occasions(transactions: pd.DataFrame) -> pd.DataFrame:
    """One row per (customer_id, order_date day) with the day's summed `amount`."""
    day = transactions["order_date"].dt.normalize()
    return (transactions.assign(order_date=day)
            .groupby(["customer_id", "order_date"], as_index=False, sort=True)["amount"].sum())


def rfm_summary(transactions: pd.DataFrame, calibration_end: pd.Timestamp) -> pd.DataFrame:
    """Per customer with an occasion on or before `calibration_end`, indexed by customer_id:

    - `frequency`: repeat occasions (occasions after the first one);
    - `recency`: days from the first to the last occasion (0 without repeats);
    - `T`: days from the first occasion to the calibration end;
    - `monetary_value`: mean value of the repeat occasions (0 without repeats: the first
      purchase is left out, as in Fader, Hardie & Lee 2005, because it often differs);
    - `first_amount`: the value of the first occasion (the classic models ignore it; the
      boosted correction uses it);
    - `gap_cv`: how regular the customer's purchases are, the coefficient of variation (std /
      mean) of the days between their occasions: about 1 for a Poisson buyer, near 0 for one
      who restocks like clockwork; NaN with fewer than two gaps (the boosted correction uses
      it; the classic models assume Poisson purchases).
    """
    end = pd.Timestamp(calibration_end).normalize()
    occasions = purchase_occasions(transactions)
    occasions = occasions[occasions["order_date"] <= end]
    grouped = occasions.groupby("customer_id", sort=True)
    first = grouped["order_date"].transform("min")
    repeats = occasions[occasions["order_date"] > first].groupby("customer_id")["amount"]
    summary = pd.DataFrame({
        "frequency": grouped.size() - 1,
        "recency": (grouped["order_date"].max() - grouped["order_date"].min()).dt.days,
        "T": (end - grouped["order_date"].min()).dt.days,
    }).astype(float)
    summary["monetary_value"] = repeats.mean().reindex(summary.index, fill_value=0.0)
    summary["first_amount"] = grouped["amount"].first()  # occasions are sorted by date
    gap = occasions.groupby("customer_id", sort=True)["order_date"].diff().dt.days
    gaps = gap.groupby(occasions["customer_id"])
    cv = gaps.std(ddof=0) / gaps.mean()
    summary["gap_cv"] = cv.where(gaps.count() >= 2).reindex(summary.index)
    summary.index.name = "customer_id"
    return summary


def holdout_actuals(transactions: pd.DataFrame, calibration_end: pd.Timestamp,
                    horizon_days: int) -> pd.DataFrame:
    """Occasions and revenue per customer in (calibration_end, calibration_end + horizon],
    indexed by customer_id (only customers with at least one occasion there)."""
    end = pd.Timestamp(calibration_end).normalize()
    occasions = purchase_occasions(transactions)
    after = occasions["order_date"] > end
    within = occasions["order_date"] <= end + pd.Timedelta(days=horizon_days)
    grouped = occasions[after & within].groupby("customer_id", sort=True)["amount"]
    actuals = pd.DataFrame({"purchases": grouped.size().astype(float), "revenue": grouped.sum()})
    actuals.index.name = "customer_id"
    return actuals
