"""Strategic value: the purchase models (BG/NBD, MBG/NBD, Pareto/NBD), the Gamma-Gamma spend
model and a discounted customer lifetime value, fitted by maximum likelihood with scipy.

Sources of the equations (the docstrings below cite them by number):

- [FHL05] P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "'Counting Your Customers' the Easy
  Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284.
- [FHL05b] P. S. Fader, B. G. S. Hardie, K. L. Lee (2005), "RFM and CLV: Using Iso-Value Curves
  for Customer Base Analysis", Journal of Marketing Research 42(4), 415-430.
- [FH13] P. S. Fader, B. G. S. Hardie (2013), "The Gamma-Gamma Model of Monetary Value",
  http://brucehardie.com/notes/025/ (the same model written out step by step).
- [SMC87] D. C. Schmittlein, D. G. Morrison, R. Colombo (1987), "Counting Your Customers: Who
  Are They and What Will They Do Next?", Management Science 33(1), 1-24 (Pareto/NBD).
- [FH05] P. S. Fader, B. G. S. Hardie (2005), "A Note on Deriving the Pareto/NBD Model and
  Related Expressions", http://brucehardie.com/notes/009/ (its likelihood, P(alive), E[Y(t)]).
- [BDF07] E. P. Batislam, M. Denizel, A. Filiztekin (2007), "Empirical validation and comparison
  of models for customer base analysis", International Journal of Research in Marketing 24(3),
  201-209 (MBG/NBD: BG/NBD that also lets a customer drop out right after the first purchase).

The purchase model is unit-free: times come in whatever unit the caller uses (the value CLI
uses days; the CDNOW results in the papers are in weeks) and `alpha` is in that unit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Protocol

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


def _distinct_customers(x: Array, t_x: Array, T: Array) -> tuple[Array, Array]:
    """Whole-day data repeat the same (x, t_x, T) a lot: the likelihood is evaluated once per
    distinct triple, weighted by its share of the customers."""
    distinct, weight = np.unique(np.column_stack([x, t_x, T]), axis=0, return_counts=True)
    return distinct, weight / x.size


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

    name = "BG/NBD"

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
        return _fit_r_alpha_a_b(cls, frequency, recency, T, penalizer)

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
class ModifiedBetaGeometricNBD:
    """MBG/NBD [BDF07]: BG/NBD in which a customer may also drop out right after the first
    purchase, so one-time buyers can be gone: P(alive) falls with the time since the first
    purchase even for them (BG/NBD keeps them alive for ever). Same parameters and inputs."""

    r: float
    alpha: float
    a: float
    b: float

    name = "MBG/NBD"

    @classmethod
    def fit(cls, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
            penalizer: float = DEFAULT_PENALIZER) -> ModifiedBetaGeometricNBD:
        """Maximum likelihood penalised as in `BetaGeometricNBD.fit`."""
        return _fit_r_alpha_a_b(cls, frequency, recency, T, penalizer)

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """Per-customer log-likelihood [BDF07]:
        L = B(a, b+x+1)/B(a, b) G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
            + B(a+1, b+x)/B(a, b) G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x)),
        the dropout term present for every x (with B(a+1, b+x) = B(a, b+x+1) a/(b+x))."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        common = (gammaln(r + x) - gammaln(r) + r * np.log(alpha)
                  + betaln(a, b + x + 1) - betaln(a, b))
        still_alive = -(r + x) * np.log(alpha + T)
        dropped = np.log(a) - np.log(b + x) - (r + x) * np.log(alpha + t_x)
        return common + np.logaddexp(still_alive, dropped)

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
                          ) -> Array:
        """P(alive | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)) [BDF07]."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        return 1.0 / (1.0 + self._dropout_odds(x, t_x, T))

    def expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike,
                           T: ArrayLike) -> Array:
        """E[Y(t) | x, t_x, T] [BDF07]: (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
        2F1(r+x, b+x+1; a+b+x; z)] P(alive), z = t/(alpha+T+t); Euler's transformation turns
        the bracketed product into (1-z)^(a-1) 2F1(a+b-r, a-1; a+b+x; z), as for BG/NBD."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        r, alpha, b = self.r, self.alpha, self.b
        a = self.a if self.a != 1 else 1 + 1e-9  # the formula's 0/0 at a = 1, by continuity
        if t <= 0:
            return np.zeros(np.broadcast(x, t_x, T).shape)
        z = t / (alpha + T + t)
        c = a + b + x
        tail = (1 - z) ** (a - 1) * hyp2f1(a + b - r, a - 1, c, z)
        return c / (a - 1) * (1 - tail) / (1.0 + self._dropout_odds(x, t_x, T))

    def _dropout_odds(self, x: Array, t_x: Array, T: Array) -> Array:
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(over="ignore"):
            return np.exp(np.log(a) - np.log(b + x)
                          + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))


@dataclass(frozen=True)
class ParetoNBD:
    """Pareto/NBD [SMC87]: while alive a customer buys as a Poisson process with rate
    lambda ~ Gamma(r, alpha) and drops out after an exponential lifetime with rate
    mu ~ Gamma(s, beta), at any time rather than only after a purchase. Same inputs as
    BG/NBD; alpha and beta are in the caller's time unit."""

    r: float
    alpha: float
    s: float
    beta: float

    name = "Pareto/NBD"

    @classmethod
    def fit(cls, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
            penalizer: float = DEFAULT_PENALIZER) -> ParetoNBD:
        """Maximum likelihood over log(r, alpha, s, beta), with the L2 penalty of
        `BetaGeometricNBD.fit` on the logs of the unit-free r and s."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        if x.size == 0:
            raise ModelFitError("Pareto/NBD: no customers to fit")
        distinct, weight = _distinct_customers(x, t_x, T)

        def objective(log_params: Array) -> float:
            r, alpha, s, beta = np.exp(log_params)
            mean_ll = weight @ cls(r, alpha, s, beta).log_likelihood(*distinct.T)
            penalty = float(log_params[0] ** 2 + log_params[2] ** 2)
            return -mean_ll + penalizer * penalty / x.size

        scale = max(float(T.mean()), 1e-3)
        start = np.log([1.0, scale, 1.0, scale])
        return cls(*map(float, np.exp(_maximise(objective, start, "Pareto/NBD"))))

    def log_likelihood(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Array:
        """Per-customer log-likelihood, [FH05] eq. 22:
        L = G(r+x) alpha^r beta^s / G(r) [1 / ((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) A0]."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
        alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
        dropped = np.log(s) - np.log(r + s + x) + self._log_a0(x, t_x, T)
        return common + np.logaddexp(alive, dropped)

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
                          ) -> Array:
        """P(alive | x, t_x, T) = 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A0)
        ([FH05] eq. 18); below 1 for one-time buyers too, falling with T."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        log_odds = (np.log(s) - np.log(r + s + x) + (r + x) * np.log(alpha + T)
                    + s * np.log(beta + T) + self._log_a0(x, t_x, T))
        with np.errstate(over="ignore"):
            return 1.0 / (1.0 + np.exp(log_odds))

    def expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike,
                           T: ArrayLike) -> Array:
        """E[Y(t) | x, t_x, T] = (r+x)(beta+T) / ((alpha+T)(s-1))
        [1 - ((beta+T)/(beta+T+t))^(s-1)] P(alive) ([FH05] eq. 20), with its limit
        (r+x)/(alpha+T) (beta+T) log((beta+T+t)/(beta+T)) at s = 1."""
        x, t_x, T = _as_arrays(frequency, recency, T)
        if t <= 0:
            return np.zeros(np.broadcast(x, t_x, T).shape)
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta
        log_ratio = np.log(beta + T + t) - np.log(beta + T)  # > 0
        horizon = (log_ratio if abs(s - 1) < 1e-8
                   else -np.expm1(-(s - 1) * log_ratio) / (s - 1))
        rate = (r + x) / (alpha + T) * (beta + T)
        return rate * horizon * self.probability_alive(x, t_x, T)

    def _log_a0(self, x: Array, t_x: Array, T: Array) -> Array:
        """log A0 of [FH05] eq. 19, A0 = F(t_x) - F(T) with F(y) the Gauss hypergeometric term
        2F1(r+s+x, s+1 | r+x; r+s+x+1; z(y)) / (max(alpha, beta)+y)^(r+s+x). Euler's
        transformation turns 2F1 into (1-z)^(c-a-b) 2F1(1, .; r+s+x+1; z), whose series is
        bounded by 1/(1-z), so frequent buyers neither overflow nor lose their precision."""
        r, alpha, s, beta = self.r, self.alpha, self.s, self.beta

        def log_f(y: Array) -> Array:
            c = r + s + x + 1
            if alpha >= beta:
                z = (alpha - beta) / (alpha + y)
                return (-s * np.log(beta + y) - (r + x) * np.log(alpha + y)
                        + np.log(hyp2f1(1, r + x, c, z)))
            z = (beta - alpha) / (beta + y)
            return ((1 - r - x) * np.log(alpha + y) - (1 + s) * np.log(beta + y)
                    + np.log(hyp2f1(1, s + 1, c, z)))

        high, low = log_f(t_x), log_f(T)  # F falls with y, so F(t_x) >= F(T)
        with np.errstate(divide="ignore", invalid="ignore"):
            return high + np.log1p(-np.exp(np.minimum(low - high, 0.0)))


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


class PurchaseModel(Protocol):
    """What the value model needs from a fitted purchase model (times in days)."""

    name: str

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
                          ) -> Array: ...

    def expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike,
                           T: ArrayLike) -> Array: ...


class PurchaseCorrection(Protocol):
    """A per-customer factor on a purchase model's expected purchases (see `hybrid`)."""

    name: str

    def factor(self, rfm: pd.DataFrame, purchases: PurchaseModel) -> Array: ...


# The purchase models the backtest chooses from, simplest first.
PURCHASE_MODELS = (BetaGeometricNBD, ModifiedBetaGeometricNBD, ParetoNBD)


@dataclass(frozen=True)
class ValueModel:
    """A purchase model and Gamma-Gamma fitted together on an RFM summary in days (see
    `onetoone.stages.value.rfm.rfm_summary`), optionally with a correction of the expected
    purchases, and the model that gives `probability_alive` when the purchase model cannot
    tell whether a one-time buyer is gone (BG/NBD keeps every one of them alive)."""

    purchases: PurchaseModel
    spend: GammaGamma
    correction: PurchaseCorrection | None = None
    alive: PurchaseModel | None = None  # None: the purchase model's own P(alive)

    @property
    def name(self) -> str:
        return self.purchases.name + (f" + {self.correction.name}" if self.correction else "")

    @classmethod
    def fit(cls, rfm: pd.DataFrame, penalizer: float = DEFAULT_PENALIZER,
            purchase_model: type = BetaGeometricNBD) -> ValueModel:
        return cls(purchase_model.fit(rfm["frequency"], rfm["recency"], rfm["T"], penalizer),
                   GammaGamma.fit(rfm["frequency"], rfm["monetary_value"], penalizer))

    def expected_purchases(self, rfm: pd.DataFrame, horizon_days: float,
                           factor: Array | float | None = None) -> Array:
        """Occasions expected in the next `horizon_days`, corrected when there is a correction
        (`factor`: the correction's factors for `rfm` when the caller has them already)."""
        base = self.purchases.expected_purchases(horizon_days, rfm["frequency"], rfm["recency"],
                                                 rfm["T"])
        return base * (self._factor(rfm) if factor is None else factor)

    def predict(self, rfm: pd.DataFrame, horizon_days: float,
                clv_months: int = DEFAULT_CLV_MONTHS,
                annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE) -> pd.DataFrame:
        """Per customer (the index of `rfm`): `expected_purchases` (occasions in the next
        `horizon_days`), `expected_value` (those times the expected spend per occasion),
        `probability_alive` and `clv` (see `discounted_clv`)."""
        # The correction's trees are most of a prediction's time: evaluated once for both.
        factor = self._factor(rfm)
        purchases = self.expected_purchases(rfm, horizon_days, factor)
        spend = self.spend.expected_spend(rfm["frequency"], rfm["monetary_value"])
        return pd.DataFrame({
            "expected_purchases": purchases,
            "expected_value": purchases * spend,
            "probability_alive": self.probability_alive(rfm),
            "clv": self.discounted_clv(rfm, clv_months, annual_discount_rate, factor),
        }, index=rfm.index)

    def probability_alive(self, rfm: pd.DataFrame) -> Array:
        """P(alive) from `alive`, else from the purchase model; NaN (unknown) for one-time
        buyers when only BG/NBD is there, whose 1 would read as "no churn risk"."""
        args = (rfm["frequency"], rfm["recency"], rfm["T"])
        alive = (self.alive or self.purchases).probability_alive(*args)
        if self.alive is None and isinstance(self.purchases, BetaGeometricNBD):
            alive = np.where(rfm["frequency"].to_numpy() > 0, alive, np.nan)
        return alive

    def _factor(self, rfm: pd.DataFrame) -> Array | float:
        return self.correction.factor(rfm, self.purchases) if self.correction else 1.0

    def discounted_clv(self, rfm: pd.DataFrame, months: int = DEFAULT_CLV_MONTHS,
                       annual_discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE,
                       factor: Array | float | None = None) -> Array:
        """Present value of expected revenue over the next `months` months (36 by default):
        sum over m = 1..months of (E[Y(m)] - E[Y(m-1)]) * E[M] / (1 + d)^m, months of 365.25/12
        days, each month's revenue discounted at its end with the monthly rate
        d = (1 + annual rate)^(1/12) - 1 (10 % a year by default), so twelve months compound
        to the annual rate. This is the discrete DCF
        sum of [FHL05b] section "CLV" (also the lifetimes library's `customer_lifetime_value`);
        it is revenue, not margin: multiply by a margin for profit."""
        args = (rfm["frequency"], rfm["recency"], rfm["T"])
        monthly_rate = (1 + annual_discount_rate) ** (1 / 12) - 1
        spend = self.spend.expected_spend(rfm["frequency"], rfm["monetary_value"])
        cumulative = np.stack([self.purchases.expected_purchases(m * DAYS_PER_MONTH, *args)
                               for m in range(months + 1)])
        discount = (1 + monthly_rate) ** -np.arange(1, months + 1)
        # A correction scales the whole curve: it is learned as a level, not a shape.
        monthly = np.diff(cumulative, axis=0) * discount[:, None]
        return monthly.sum(axis=0) * spend * (self._factor(rfm) if factor is None else factor)

    def describe(self) -> str:
        """The fitted parameters, with the implied population means, as text."""
        gg = self.spend
        lines = [f"purchases: {self.name}: {_describe_purchases(self.purchases)}"]
        if self.alive is not None:
            lines.append(f"probability_alive: {_describe_purchases(self.alive)} "
                         f"({self.purchases.name} keeps every one-time buyer alive)")
        lines.append(f"Gamma-Gamma: p={gg.p:.4g} q={gg.q:.4g} v={gg.v:.4g}  "
                     f"(mean spend per occasion {gg.p * gg.v / (gg.q - 1):,.2f})")
        return "\n".join(lines)


def _describe_purchases(model: PurchaseModel) -> str:
    params = " ".join(f"{key}={value:.4g}" for key, value in asdict(model).items())
    return f"{model.name} (days) {params}"


def _fit_r_alpha_a_b(model: type, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
                     penalizer: float):
    """The penalised maximum-likelihood fit shared by BG/NBD and MBG/NBD (same parameters
    r, alpha, a, b; each model brings its own log-likelihood), see `BetaGeometricNBD.fit`."""
    x, t_x, T = _as_arrays(frequency, recency, T)
    if x.size == 0:
        raise ModelFitError(f"{model.name}: no customers to fit")
    distinct, weight = _distinct_customers(x, t_x, T)

    def objective(log_params: Array) -> float:
        r, alpha, a, b = np.exp(log_params)
        mean_ll = weight @ model(r, alpha, a, b).log_likelihood(*distinct.T)
        penalty = float(log_params[0] ** 2 + log_params[2] ** 2 + log_params[3] ** 2)
        return -mean_ll + penalizer * penalty / x.size

    start = np.log([1.0, max(float(T.mean()), 1e-3), 1.0, 1.0])
    return model(*map(float, np.exp(_maximise(objective, start, model.name))))
