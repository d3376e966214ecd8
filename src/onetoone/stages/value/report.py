"""Holdout report: how well the value model, fitted up to the calibration end, predicted the
repeat purchases and revenue that followed. Totals show bias, per-customer errors and
correlations show ranking power, and the table by past frequency shows where it goes wrong."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

FREQUENCY_BUCKETS = 8  # 0, 1, ..., 6 and "7+" repeat purchases before the calibration end


@dataclass(frozen=True)
class HoldoutReport:
    """Predicted against actual over the holdout days, for the customers scored."""

    calibration_end: pd.Timestamp
    holdout_days: int
    horizon_days: int  # asked for; more than holdout_days when the data end sooner
    customers: int
    unscored_customers: int  # first bought after the calibration end: the model cannot see them
    predicted_purchases: float
    actual_purchases: float
    predicted_revenue: float
    actual_revenue: float
    mae_purchases: float
    mae_revenue: float
    correlation_purchases: float
    correlation_revenue: float
    by_frequency: pd.DataFrame  # per bucket: customers and per-customer means

    @property
    def purchases_ratio(self) -> float:
        return _ratio(self.predicted_purchases, self.actual_purchases)

    @property
    def revenue_ratio(self) -> float:
        return _ratio(self.predicted_revenue, self.actual_revenue)

    def text(self) -> str:
        """The report as aligned plain text for a terminal."""
        until = (self.calibration_end + pd.Timedelta(days=self.holdout_days)).date()
        lines = [f"Holdout check: fitted on data up to {self.calibration_end.date()}, "
                 f"compared over the {self.holdout_days} days after it (to {until})"]
        if self.holdout_days < self.horizon_days:
            lines.append(f"  (the data end {self.holdout_days} days after the calibration end, "
                         f"short of the {self.horizon_days}-day horizon)")
        lines += [
            f"  {self.customers:,} customers scored; {self.unscored_customers:,} first bought "
            "after the calibration end and are not scored",
            "",
            f"  {'':<18}{'predicted':>15}{'actual':>15}{'pred/actual':>13}",
            f"  {'repeat purchases':<18}{self.predicted_purchases:>15,.1f}"
            f"{self.actual_purchases:>15,.0f}{self.purchases_ratio:>13.3f}",
            f"  {'revenue':<18}{self.predicted_revenue:>15,.2f}"
            f"{self.actual_revenue:>15,.2f}{self.revenue_ratio:>13.3f}",
            "",
            f"  {'per customer':<18}{'MAE':>15}{'correlation':>15}",
            f"  {'repeat purchases':<18}{self.mae_purchases:>15.3f}"
            f"{self.correlation_purchases:>15.3f}",
            f"  {'revenue':<18}{self.mae_revenue:>15,.2f}{self.correlation_revenue:>15.3f}",
            "",
            "  by repeat purchases before the calibration end (means per customer):",
            f"  {'frequency':<10}{'customers':>10}{'pred purch':>12}{'actual purch':>14}"
            f"{'pred revenue':>14}{'actual revenue':>16}",
        ]
        for bucket, row in self.by_frequency.iterrows():
            lines.append(f"  {bucket:<10}{int(row['customers']):>10,}"
                         f"{row['predicted_purchases']:>12.3f}{row['actual_purchases']:>14.3f}"
                         f"{row['predicted_revenue']:>14,.2f}{row['actual_revenue']:>16,.2f}")
        return "\n".join(lines)


def _ratio(predicted: float, actual: float) -> float:
    return predicted / actual if actual else float("nan")


def _correlation(a: pd.Series, b: pd.Series) -> float:
    """Pearson correlation, NaN when either side is constant (nothing to rank)."""
    if a.std() == 0 or b.std() == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def holdout_report(rfm: pd.DataFrame, predicted: pd.DataFrame, actuals: pd.DataFrame,
                   calibration_end: pd.Timestamp, holdout_days: int, horizon_days: int
                   ) -> HoldoutReport:
    """Compare `predicted` (`expected_purchases`, `expected_value` over `holdout_days`, indexed
    like `rfm`) with `actuals` from `rfm.holdout_actuals` over the same days."""
    actual = actuals.reindex(rfm.index, fill_value=0.0)
    bucket = np.minimum(rfm["frequency"].to_numpy(dtype=int), FREQUENCY_BUCKETS - 1)
    labels = [str(i) for i in range(FREQUENCY_BUCKETS - 1)] + [f"{FREQUENCY_BUCKETS - 1}+"]
    frame = pd.DataFrame({
        "bucket": pd.Categorical.from_codes(bucket, labels),
        "predicted_purchases": predicted["expected_purchases"].to_numpy(),
        "actual_purchases": actual["purchases"].to_numpy(),
        "predicted_revenue": predicted["expected_value"].to_numpy(),
        "actual_revenue": actual["revenue"].to_numpy(),
    })
    by_frequency = frame.groupby("bucket", observed=True).mean()
    by_frequency.insert(0, "customers", frame.groupby("bucket", observed=True).size())
    purchase_error = frame["predicted_purchases"] - frame["actual_purchases"]
    revenue_error = frame["predicted_revenue"] - frame["actual_revenue"]
    return HoldoutReport(
        calibration_end=pd.Timestamp(calibration_end).normalize(),
        holdout_days=holdout_days,
        horizon_days=horizon_days,
        customers=len(rfm),
        unscored_customers=int((~actuals.index.isin(rfm.index)).sum()),
        predicted_purchases=float(frame["predicted_purchases"].sum()),
        actual_purchases=float(frame["actual_purchases"].sum()),
        predicted_revenue=float(frame["predicted_revenue"].sum()),
        actual_revenue=float(frame["actual_revenue"].sum()),
        mae_purchases=float(purchase_error.abs().mean()),
        mae_revenue=float(revenue_error.abs().mean()),
        correlation_purchases=_correlation(frame["predicted_purchases"], frame["actual_purchases"]),
        correlation_revenue=_correlation(frame["predicted_revenue"], frame["actual_revenue"]),
        by_frequency=by_frequency,
    )
