"""The value model's maths at its edges: each expectation against the published formula
written without the Euler transformation the code uses, the Gamma-Gamma density, the limits the
code takes by continuity, shapes, warnings, the fit's bounds and its error messages. Small and
fast: these are the tests `make mutate` leans on for `stages/value/model.py`."""

from __future__ import annotations

import warnings
from decimal import Decimal

import numpy as np
import pytest
from scipy.integrate import quad
from scipy.special import gammaln, hyp2f1

from onetoone.stages.value.model import (
    BetaGeometricNBD,
    GammaGamma,
    ModelFitError,
    ModifiedBetaGeometricNBD,
    ParetoNBD,
    _maximise,
)

# A few customers with small repeat counts, where the untransformed series converge quickly.
X = np.array([0.0, 1.0, 3.0, 6.0])
T_X = np.array([0.0, 20.0, 55.0, 80.0])
T = np.array([90.0, 95.0, 100.0, 120.0])


def _bg_expected(model: BetaGeometricNBD, t: float) -> np.ndarray:
    """[FHL05] eq. 10 as printed."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = t / (alpha + T + t)
    bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + X) * hyp2f1(r + X, b + X,
                                                                      a + b + X - 1, z)
    odds = np.where(X > 0, a / (b + X - 1) * ((alpha + T) / (alpha + T_X)) ** (r + X), 0.0)
    return (a + b + X - 1) / (a - 1) * bracket / (1 + odds)


def _mbg_expected(model: ModifiedBetaGeometricNBD, t: float) -> np.ndarray:
    """[BDF07] as printed."""
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    z = t / (alpha + T + t)
    bracket = 1 - ((alpha + T) / (alpha + T + t)) ** (r + X) * hyp2f1(r + X, b + X + 1,
                                                                      a + b + X, z)
    odds = a / (b + X) * ((alpha + T) / (alpha + T_X)) ** (r + X)
    return (a + b + X) / (a - 1) * bracket / (1 + odds)


def _pareto_a0(model: ParetoNBD, y: np.ndarray) -> np.ndarray:
    """One term of A0, [FH05] eq. 19, with the Gauss function as printed."""
    r, alpha, s, beta = model.r, model.alpha, model.s, model.beta
    if alpha >= beta:
        z, second, base = (alpha - beta) / (alpha + y), s + 1, alpha + y
    else:
        z, second, base = (beta - alpha) / (beta + y), r + X, beta + y
    return hyp2f1(r + s + X, second, r + s + X + 1, z) / base ** (r + s + X)


def _pareto_likelihood(model: ParetoNBD) -> np.ndarray:
    """[FH05] eq. 22 as printed, not in logs."""
    r, alpha, s, beta = model.r, model.alpha, model.s, model.beta
    a0 = _pareto_a0(model, T_X) - _pareto_a0(model, T)
    front = np.exp(gammaln(r + X) - gammaln(r)) * alpha ** r * beta ** s
    return front * (1 / ((alpha + T) ** (r + X) * (beta + T) ** s) + s / (r + s + X) * a0)


@pytest.mark.parametrize("a", [0.8, 1.7, 3.2])
def test_bg_and_mbg_expected_purchases_are_the_published_formulas(a: float) -> None:
    bg = BetaGeometricNBD(0.45, 40.0, a, 2.5)
    mbg = ModifiedBetaGeometricNBD(0.45, 40.0, a, 2.5)
    for t in (7.0, 90.0):
        np.testing.assert_allclose(bg.expected_purchases(t, X, T_X, T), _bg_expected(bg, t),
                                   rtol=1e-9)
        np.testing.assert_allclose(mbg.expected_purchases(t, X, T_X, T), _mbg_expected(mbg, t),
                                   rtol=1e-9)


@pytest.mark.parametrize(("alpha", "beta"), [(30.0, 12.0), (12.0, 30.0)])
def test_pareto_nbd_likelihood_is_the_published_formula_either_way_round(alpha: float,
                                                                       beta: float) -> None:
    model = ParetoNBD(0.6, alpha, 0.8, beta)
    np.testing.assert_allclose(np.exp(model.log_likelihood(X, T_X, T)),
                               _pareto_likelihood(model), rtol=1e-9)


@pytest.mark.parametrize("s", [0.7, 1.5, 2.0, 1.0])
def test_pareto_nbd_expected_purchases_are_the_published_formula_and_its_limit(s: float) -> None:
    model = ParetoNBD(0.6, 30.0, s, 25.0)
    t = 60.0
    rate = (0.6 + X) * (25.0 + T) / (30.0 + T)
    horizon = (np.log((25.0 + T + t) / (25.0 + T)) if s == 1
               else (1 - ((25.0 + T) / (25.0 + T + t)) ** (s - 1)) / (s - 1))
    expected = rate * horizon * model.probability_alive(X, T_X, T)
    np.testing.assert_allclose(model.expected_purchases(t, X, T_X, T), expected, rtol=1e-9)


@pytest.mark.parametrize("model", [BetaGeometricNBD(0.45, 40.0, 1.2, 2.5),
                                   ModifiedBetaGeometricNBD(0.45, 40.0, 1.2, 2.5),
                                   ParetoNBD(0.6, 30.0, 0.8, 25.0)], ids=lambda m: m.name)
def test_no_time_means_no_purchases_in_the_shape_of_the_inputs(model) -> None:
    three = np.array([1.0, 2.0, 3.0])
    for args in ((three, three - 1, three + 50), (three, 0.0, 50.0), (1.0, three, 50.0),
                 (1.0, 0.0, three + 50)):
        none = model.expected_purchases(0, *args)
        assert none.shape == (3,) and not none.any()
        assert model.expected_purchases(5, *args).shape == (3,)
    assert (model.expected_purchases(0.5, X, T_X, T) > 0).all()  # half a day is some time


def test_the_formulas_stay_quiet_where_numpy_would_warn() -> None:
    """Dropout odds overflow for a frequent buyer long gone, log(b + x - 1) is log of zero or
    less for a one-time buyer when b <= 1, and A0 is 0 when the last purchase is today: the
    code handles each, so nothing should reach the logs as a RuntimeWarning."""
    gone = (np.array([0.0, 400.0]), np.array([0.0, 1.0]), np.array([10.0, 5000.0]))
    today = (np.array([2.0]), np.array([50.0]), np.array([50.0]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for b in (0.5, 1.0):
            bg = BetaGeometricNBD(0.45, 40.0, 1.2, b)
            bg.log_likelihood(*gone)
            bg.probability_alive(*gone)
        ModifiedBetaGeometricNBD(0.45, 40.0, 1.2, 2.5).probability_alive(*gone)
        pareto = ParetoNBD(0.6, 30.0, 0.8, 25.0)
        pareto.probability_alive(*gone)
        pareto.log_likelihood(*today)


def test_amounts_read_as_decimals_are_numbers() -> None:
    """PostgreSQL's numeric columns arrive as Decimal; the model reads them as floats."""
    model = BetaGeometricNBD(0.45, 40.0, 1.2, 2.5)
    np.testing.assert_allclose(model.probability_alive([Decimal("2")], [Decimal("30")],
                                                       [Decimal("90")]),
                               model.probability_alive([2.0], [30.0], [90.0]))
    spend = GammaGamma(6.25, 3.74, 15.44)
    np.testing.assert_allclose(spend.expected_spend([Decimal("2"), Decimal("30.5")],
                                                    [Decimal("12.5")] * 2),
                               spend.expected_spend([2.0, 30.5], [12.5, 12.5]))


@pytest.mark.parametrize("x", [1.0, 3.0])
def test_gamma_gamma_likelihood_is_a_density_of_the_mean_spend(x: float) -> None:
    model = GammaGamma(4.1, 3.2, 55.0)
    total, _ = quad(lambda m: float(np.exp(model.log_likelihood([x], [m])[0])), 0, np.inf)
    assert total == pytest.approx(1.0, abs=1e-7)


def test_gamma_gamma_accepts_a_heavy_but_finite_mean_and_refuses_an_infinite_one() -> None:
    rng = np.random.default_rng(4)
    x = rng.integers(1, 6, 3_000).astype(float)

    def spend(q: float) -> np.ndarray:
        return rng.gamma(3.0 * x, 1 / rng.gamma(q, 1 / 20.0, x.size)) / x

    assert 1 < GammaGamma.fit(x, spend(1.8)).q < 2
    with pytest.raises(ModelFitError) as refused:
        GammaGamma.fit(x, spend(0.5))
    assert str(refused.value).startswith("Gamma-Gamma: fitted q = ")
    assert str(refused.value).endswith(" <= 1, so the mean spend is infinite; spend is too "
                                       "heavy-tailed for this model")


@pytest.mark.parametrize("model_class", [BetaGeometricNBD, ModifiedBetaGeometricNBD, ParetoNBD],
                         ids=lambda c: c.name)
def test_purchase_fits_take_one_customer_and_name_an_empty_or_broken_input(model_class) -> None:
    one = model_class.fit([2.0], [30.0], [90.0])
    assert np.isfinite(list(vars(one).values())).all()
    with pytest.raises(ModelFitError) as empty:
        model_class.fit([], [], [])
    assert str(empty.value) == f"{model_class.name}: no customers to fit"
    with pytest.raises(ModelFitError) as broken:
        model_class.fit([1.0, 2.0], [np.nan, 30.0], [60.0, 90.0])
    assert str(broken.value).startswith(
        f"{model_class.name}: the fit ended on a non-finite likelihood (")


def test_gamma_gamma_names_a_broken_input() -> None:
    with pytest.raises(ModelFitError) as broken:
        GammaGamma.fit([1.0, 2.0, 3.0], [10.0, np.inf, 30.0])
    assert str(broken.value).startswith("Gamma-Gamma: the fit ended on a non-finite likelihood (")


def test_the_search_stays_within_exp_of_plus_or_minus_20() -> None:
    """The bounds keep exp() of every log-parameter finite, whatever the objective prefers."""
    high = _maximise(lambda p: float(((p - 50) ** 2).sum()), np.zeros(2), "test")
    low = _maximise(lambda p: float(((p + 50) ** 2).sum()), np.zeros(2), "test")
    np.testing.assert_allclose(high, [20.0, 20.0])
    np.testing.assert_allclose(low, [-20.0, -20.0])


def test_a_search_that_ends_on_a_non_finite_value_is_an_error() -> None:
    with pytest.raises(ModelFitError) as broken:
        _maximise(lambda p: float("nan"), np.zeros(2), "the model")
    assert str(broken.value).startswith("the model: the fit ended on a non-finite likelihood (")
