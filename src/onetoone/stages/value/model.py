"""Strategic value: the BG/NBD purchase model, the Gamma-Gamma spend model and a discounted
customer lifetime value, fitted by maximum likelihood with scipy.

Sources of the equations (the docstrings below cite them by number):

- [FHL05] P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "'Counting Your Customers' the Easy
  Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284.
- [FHL05b] P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "RFM and CLV: Using Iso-Value Curves
  for Customer Base Analysis", Journal of Marketing Research 42(4), 415-430.
- [FH13] P. S. Fader, B. G. S. Hardie (2013), "The Gamma-Gamma Model of Monetary Value",
  http://brucehardie.com/notes/025/ (the same model written out step by step).

The purchase model is unit-free: times come in whatever unit the caller uses (the value CLI
uses days; the CDNOW results in the papers are in weeks) and `alpha` is in that unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, gammaln, hyp2f1

DEFAULT_PENALIZER = 0.1
DAYS_PER_MONTH = 365.25 / 12
DEFAULT_CLV_MONTHS = 36
DEFAULT_ANNUAL_DISCOUNT_RATE = 0.10

Array = NDArray[np.float64]


class ModelFitError(RuntimeError):
    """The data do not support the model (no repeat buyers, spend too heavy-tailed, ...)."""


def _as_arrays(*values: ArrayLike) -> list[Array]:
    return [np.asarray(v, dtype=float) for v in values]


def _maximise(objective: Callable[[Array], float], start: Array, what: str) -> Array:
    """Minimise over log-parameters with L-BFGS-B; log space keeps every parameter positive
    and the bounds keep exp() finite while the line search explores."""
    result = minimize(objective, start, method="L-BFGS-B",
                      bounds=[(-20.0, 20.0)] * start.size)
    if not np.all(np.isfinite(result.x)) or not np.isfinite(result.fun):
        raise ModelFitError(f"{what}: the fit ended on a non-finite likelihood ({result.message})")
    return result.x


@dataclass(frozen=True)
class BetaGeometricNBD:
    """BG/NBD [FHL05]: while alive a customer buys as a Poisson process with rate
    lambda ~ Gamma(r, alpha); after each purchase they drop out with probability
    p ~ Beta(a, b). Observed per customer: x repeat purchases, the time t_x of the last one and
    the time T since the first one (both measured from the first purchase)."""

    r: float
    alpha: float
    a: float
    b: float

    @classmethod
    def fit(cls, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
            penalizer: float = DEFAULT_PENALIZER) -> BetaGeometricNBD:
        """Maximum likelihood over log(r, alpha, a, b), stabilised by an L2 penalty of
        `penalizer` times the squared logs of the unit-free r, a and b (alpha is left alone, so
        the fit does not depend on the time unit). Unlike the lifetimes library's
        `penalizer_coef`, the penalty is on the total log-likelihood: a weak Gaussian prior on
        the logs (sd 2.2 at the default 0.1) whose pull fades as customers are added. It
        matters only when the data barely identify a parameter (say b -> infinity when nobody
        seems to drop out); `penalizer=0` gives the plain maximum-likelihood estimate."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        if x.size == 0:
            raise ModelFitError("BG/NBD: no customers to fit")
        # Whole-day data repeat the same (x, t_x, T) a lot: fit each distinct one once, weighted.
        distinct, weight = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
        weight = weight / x.size

        def objective(log_params: Array) -> float:
            r, alpha, a, b = np.exp(log_params)
            mean_ll = weight @ cls(r, alpha, a, b).log_likelihood(*distinct.T)
            penalty = float(log_params[0] ** 2 + log_params[2] ** 2 + log_params[3] ** 2)
            return -mean_ll + penalizer * penalty / x.size

        start = np.log([1.0, max(float(T.mean()), 1e-3), 1.0, 1.0])
        return cls(*map(float, np.exp(_maximise(objective, start, "BG/NBD"))))

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """Per-customer log-likelihood, [FHL05] eq. 6 in logs:
        L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x)),
        using B(a+1, b+x-1)/B(a, b+x) = a/(b+x-1) to share the first factor."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        common = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
                  + betaln(a, b + x) - betaln(a, b))
        still_alive = -(r + x) * np.log(alpha + T)
        with np.errstate(divide="ignore", invalid="ignore"):
            dropped = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x),
                               -np.inf)
        return common + np.logaddexp(still_alive, dropped)

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
                          ) -> Array:
        """P(alive | x, t_x, T) [FHL05] eq. 11:
        1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)). A customer without repeat
        purchases counts as alive: in BG/NBD dropout can only happen right after a purchase."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        return 1.0 / (1.0 + self._dropout_odds(x, t_x, T))

    def expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike,
                           T: ArrayLike) -> Array:
        """E[Y(t) | x, t_x, T], purchases in the next t time units, [FHL05] eq. 10:
        (a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)]
        / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)),  z = t/(alpha+T+t).
        Euler's transformation 2F1(a, b; c; z) = (1-z)^(c-a-b) 2F1(c-a, c-b; c; z) turns the
        bracketed product into (1-z)^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; z), whose parameters
        stay small for frequent buyers, so the series converges fast and without overflow."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        r, alpha, b = self.r, self.alpha, self.b
        a = self.a if self.a != 1 else 1 + 1e-9  # the formula's 0/0 at a = 1, by continuity
        if t <= 0:
            return np.zeros(np.broadcast(x, t_x, T).shape)
        z = t / (alpha + T + t)
        c = a + b + x - 1
        tail = (1 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)
        return c / (a - 1) * (1 - tail) / (1.0 + self._dropout_odds(x, t_x, T))

    def _dropout_odds(self, x: Array, t_x: Array, T: Array) -> Array:
        """Odds that the customer dropped out after the last purchase ([FHL05] eq. 11)."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_odds = np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T)
                                                                  - np.log(alpha + t_x))
        return np.where(x > 0, np.exp(log_odds), 0.0)


@dataclass(frozen=True)
class GammaGamma:
    """Gamma-Gamma spend [FHL05b, FH13]: a customer's occasion values are Gamma(p, nu) with
    nu ~ Gamma(q, v) across customers, independent of the purchase process; observed per
    customer: x repeat occasions with mean value m_x. E[value] = p v / (q - 1) needs q > 1."""

    p: float
    q: float
    v: float

    @classmethod
    def fit(cls, frequency: ArrayLike, monetary_value: ArrayLike,
            penalizer: float = DEFAULT_PENALIZER) -> GammaGamma:
        """Maximum likelihood on the customers with repeat occasions of positive mean value,
        penalising the squared logs of the unit-free p and q as `BetaGeometricNBD.fit` does."""
        x, m = _as_arrays(frequency, monetary_value)
        use = (x > 0) & (m > 0)
        x, m = x[use], m[use]
        if x.size < 2:
            raise ModelFitError("Gamma-Gamma: fewer than 2 customers with a repeat purchase "
                                "before the calibration end; nothing to learn spend from")

        def objective(log_params: Array) -> float:
            p, q, v = np.exp(log_params)
            penalty = float(log_params[0] ** 2 + log_params[1] ** 2)
            return -cls(p, q, v).log_likelihood(x, m).mean() + penalizer * penalty / x.size

        start = np.log([1.0, 2.0, max(float(m.mean()), 1e-6)])
        model = cls(*map(float, np.exp(_maximise(objective, start, "Gamma-Gamma"))))
        if model.q <= 1:
            raise ModelFitError(f"Gamma-Gamma: fitted q = {model.q:.3f} <= 1, so the mean spend "
                                "is infinite; spend is too heavy-tailed for this model")
        return model

    def log_likelihood(self, frequency: ArrayLike, monetary_value: ArrayLike) -> Array:
        """Log density of the mean m_x of x occasion values ([FH13] eq. 3):
        G(px+q)/(G(px) G(q)) v^q m_x^(px-1) x^(px) / (v + x m_x)^(px+q)."""
        x, m = _as_arrays(frequency, monetary_value)
        p, q, v = self.p, self.q, self.v
        return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v)
                + (p * x - 1) * np.log(m) + p * x * np.log(x) - (p * x + q) * np.log(v + x * m))

    def expected_spend(self, frequency: ArrayLike, monetary_value: ArrayLike) -> Array:
        """E[M | x, m_x] = p (v + x m_x) / (p x + q - 1) ([FHL05b] eq. 5, [FH13] eq. 5): a
        weighted mean of the population mean p v/(q-1) and the customer's own m_x, trusting
        m_x more the more occasions it averages. With x = 0 it is the population mean."""
        x, m = _as_arrays(frequency, monetary_value)
        return self.p * (self.v + x * m) / (self.p * x + self.q - 1)


@dataclass(frozen=True)
class ValueModel:
    """BG/NBD and Gamma-Gamma fitted together on an RFM summary in days
    (see `onetoone.stages.value.rfm.rfm_summary`)."""

    purchases: BetaGeometricNBD
    spend: GammaGamma

    @classmethod
    def fit(cls, rfm: pd.DataFrame, penalizer: float = DEFAULT_PENALIZER) -> ValueModel:
        return cls(BetaGeometricNBD.fit(rfm["frequency"], rfm["recency"], rfm["T"], penalizer),
                   GammaGamma.fit(rfm["frequency"], rfm["monetary_value"], penalizer))

    def predict(self, rfm: pd.DataFrame, horizon_days: float,
                clv_months: int = DEFAULT_CLV_MONTHS,
                annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE) -> pd.DataFrame:
        """Per customer (the index of `rfm`): `expected_purchases` (occasions in the next
        `horizon_days`), `expected_value` (those times the expected spend per occasion),
        `probability_alive` and `clv` (see `discounted_clv`)."""
        args = (rfm["frequency"], rfm["recency"], rfm["T"])
        purchases = self.purchases.expected_purchases(horizon_days, *args)
        spend = self.spend.expected_spend(rfm["frequency"], rfm["monetary_value"])
        return pd.DataFrame({
            "expected_purchases": purchases,
            "expected_value": purchases * spend,
            "probability_alive": self.purchases.probability_alive(*args),
            "clv": self.discounted_clv(rfm, clv_months, annual_discount_rate),
        }, index=rfm.index)

    def discounted_clv(self, rfm: pd.DataFrame, months: int = DEFAULT_CLV_MONTHS,
                       annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE) -> Array:
        """Present value of expected revenue over the next `months` months (36 by default):
        sum over m = 1..months of (E[Y(m)] - E[Y(m-1)]) * E[M] / (1 + d)^m, months of 365.25/12
        days, each month's revenue discounted at its end with the monthly rate
        d = (1 + annual rate)^(1/12) - 1 (10 % a year by default). This is the discrete DCF
        sum of [FHL05b] section "CLV" (also the lifetimes library's `customer_lifetime_value`);
        it is revenue, not margin: multiply by a margin for profit."""
        args = (rfm["frequency"], rfm["recency"], rfm["T"])
        monthly_rate = (1 + annual_discount_rate) ** (1 / 12) - 1
        spend = self.spend.expected_spend(rfm["frequency"], rfm["monetary_value"])
        cumulative = np.stack([self.purchases.expected_purchases(m * DAYS_PER_MONTH, *args)
                               for m in range(months + 1)])
        discount = (1 + monthly_rate) ** -np.arange(1, months + 1)
        return (np.diff(cumulative, axis=0) * discount[:, None]).sum(axis=0) * spend

    def describe(self) -> str:
        """The fitted parameters, with the implied population means, as text."""
        bg, gg = self.purchases, self.spend
        return (f"BG/NBD (days): r={bg.r:.4g} alpha={bg.alpha:.4g} a={bg.a:.4g} b={bg.b:.4g}  "
                f"(mean purchase rate {bg.r / bg.alpha * 365.25:.3g}/year while alive, "
                f"mean dropout {bg.a / (bg.a + bg.b):.3g} per purchase)\n"
                f"Gamma-Gamma: p={gg.p:.4g} q={gg.q:.4g} v={gg.v:.4g}  "
                f"(mean spend per occasion {gg.p * gg.v / (gg.q - 1):,.2f})")
