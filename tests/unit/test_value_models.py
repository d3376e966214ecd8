"""The model family: Pareto/NBD and MBG/NBD against published and simulated results, P(alive)
of one-time buyers, the discounting of lifetime value, and the backtest that chooses the model
(including the boosted correction) inside the calibration window."""

from __future__ import annotations

from dataclasses import astuple
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from onetoone.stages.value.model import (
    DEFAULT_ANNUAL_DISCOUNT_RATE,
    DEFAULT_CLV_MONTHS,
    DEFAULT_PENALIZER,
    BetaGeometricNBD,
    GammaGamma,
    ModifiedBetaGeometricNBD,
    ParetoNBD,
    ValueModel,
)
from onetoone.stages.value.rfm import holdout_actuals, rfm_summary
from onetoone.stages.value.scoring import score_transactions
from onetoone.stages.value.selection import backtest_split

CDNOW = Path(__file__).parents[1] / "fixtures" / "value" / "cdnow_summary.csv"
# Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model", CDNOW sample in weeks.
CDNOW_PARETO_NBD = (0.5534, 10.5802, 0.6061, 11.6562)  # r, alpha, s, beta


def simulate(n: int, story: str, params: tuple[float, ...], holdout: float, seed: int
             ) -> tuple[np.ndarray, ...]:
    """Customers of a purchase model's story, in weeks: first purchase at 0, observed for
    T ~ U(26, 52) weeks, then `holdout` more. Returns x, t_x, T and holdout purchases."""
    rng = np.random.default_rng(seed)
    r, alpha = params[:2]
    rate = rng.gamma(r, 1 / alpha, n)
    T = rng.uniform(26, 52, n)
    end = T + holdout
    owner = np.repeat(np.arange(n), rng.poisson(rate * end))
    at = rng.random(owner.size) * end[owner]
    order = np.lexsort((at, owner))
    owner, at = owner[order], at[order]
    if story == "pareto":  # an exponential lifetime, at any time
        lifetime = rng.exponential(1 / rng.gamma(params[2], 1 / params[3], n))
        alive = at < lifetime[owner]
    else:  # MBG/NBD: a coin after the first purchase and after each repeat one
        rank = np.arange(owner.size) - np.searchsorted(owner, owner)
        alive = rank < rng.geometric(rng.beta(params[2], params[3], n))[owner] - 1
    owner, at = owner[alive], at[alive]
    calibration = at <= T[owner]
    x = np.bincount(owner[calibration], minlength=n).astype(float)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner[calibration], at[calibration])
    return x, t_x, T, np.bincount(owner[~calibration], minlength=n).astype(float)


def test_pareto_nbd_reproduces_the_published_cdnow_fit() -> None:
    cdnow = pd.read_csv(CDNOW)
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    model = ParetoNBD.fit(x, t_x, T, penalizer=0)
    np.testing.assert_allclose([model.r, model.alpha, model.s, model.beta], CDNOW_PARETO_NBD,
                               rtol=2e-3)
    assert model.log_likelihood(x, t_x, T).sum() == pytest.approx(-9595.0, abs=0.1)
    # P(alive) is the posterior share of the "still alive" term of the likelihood.
    r, alpha, s, beta = model.r, model.alpha, model.s, model.beta
    from scipy.special import gammaln
    alive_term = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
                  - (r + x) * np.log(alpha + T) - s * np.log(beta + T))
    np.testing.assert_allclose(model.probability_alive(x, t_x, T),
                               np.exp(alive_term - model.log_likelihood(x, t_x, T)), rtol=1e-9)


@pytest.mark.parametrize(("model_class", "story", "truth"), [
    (ParetoNBD, "pareto", (0.6, 9.0, 0.8, 20.0)),
    (ModifiedBetaGeometricNBD, "mbg", (0.5, 8.0, 0.9, 2.5)),
])
def test_models_recover_simulated_parameters_and_predict_the_holdout(model_class, story,
                                                                      truth) -> None:
    x, t_x, T, holdout = simulate(20_000, story, truth, holdout=39, seed=5)
    model = model_class.fit(x, t_x, T, penalizer=0)
    fitted = [getattr(model, name) for name in model.__dataclass_fields__]
    np.testing.assert_allclose(fitted[:2], truth[:2], rtol=0.15)
    np.testing.assert_allclose(fitted[2:], truth[2:], rtol=0.35)
    excess = 2 * (model.log_likelihood(x, t_x, T).sum()
                  - model_class(*truth).log_likelihood(x, t_x, T).sum())
    assert 0 <= excess < 18.5  # at least as likely as the truth, not implausibly more (4 df)
    predicted = model.expected_purchases(39, x, t_x, T)
    assert predicted.sum() / holdout.sum() == pytest.approx(1, abs=0.05)
    assert predicted[x >= 3].mean() > predicted[x == 0].mean()


def test_one_time_buyers_can_be_gone_except_under_bg_nbd() -> None:
    T = np.array([10.0, 30.0, 60.0])
    none = np.zeros(3)
    for model in (ParetoNBD(0.55, 10.6, 0.61, 11.7),
                  ModifiedBetaGeometricNBD(0.52, 6.2, 0.89, 1.6)):
        alive = model.probability_alive(none, none, T)
        assert np.all(alive < 1) and np.all(np.diff(alive) < 0), model.name
    assert np.all(BetaGeometricNBD(0.243, 4.414, 0.793, 2.426).probability_alive(none, none, T)
                  == 1)


def test_bg_nbd_alone_leaves_one_time_buyers_unknown_not_safe() -> None:
    # one repeat purchase is enough to be known: only the one-time buyer's P(alive) is NaN
    rfm = pd.DataFrame({"frequency": [0.0, 3.0, 1.0], "recency": [0.0, 200.0, 40.0],
                        "T": [300.0, 300.0, 90.0], "monetary_value": [0.0, 40.0, 30.0],
                        "first_amount": [20.0, 30.0, 25.0]})
    bg = BetaGeometricNBD(0.4, 60.0, 1.1, 4.5)
    alone = ValueModel(bg, GammaGamma(4.2, 4.0, 57.0)).predict(rfm, 90)["probability_alive"]
    assert np.isnan(alone.iloc[0]) and 0 < alone.iloc[1] < 1 and 0 < alone.iloc[2] < 1
    helped = ValueModel(bg, GammaGamma(4.2, 4.0, 57.0),
                        alive=ModifiedBetaGeometricNBD(0.5, 60.0, 0.9, 2.0)).predict(rfm, 90)
    assert 0 < helped["probability_alive"].iloc[0] < 1


def test_clv_discounts_each_month_at_its_end_with_the_effective_monthly_rate() -> None:
    rfm = pd.DataFrame({"frequency": [0.0, 4.0], "recency": [0.0, 250.0], "T": [200.0, 260.0],
                        "monetary_value": [0.0, 55.0], "first_amount": [30.0, 60.0]})
    model = ValueModel(BetaGeometricNBD(0.4, 60.0, 1.1, 4.5), GammaGamma(4.2, 4.0, 57.0))
    months = DEFAULT_CLV_MONTHS
    spend = model.spend.expected_spend(rfm["frequency"], rfm["monetary_value"])
    cumulative = np.stack([model.purchases.expected_purchases(m * 365.25 / 12, rfm["frequency"],
                                                              rfm["recency"], rfm["T"])
                           for m in range(months + 1)])
    revenue = np.diff(cumulative, axis=0) * spend  # month m = 1..36, per customer
    m = np.arange(1, months + 1)[:, None]
    annual = DEFAULT_ANNUAL_DISCOUNT_RATE

    def present_value(monthly_rate: float, exponent: np.ndarray) -> np.ndarray:
        return (revenue / (1 + monthly_rate) ** exponent).sum(axis=0)

    effective = (1 + annual) ** (1 / 12) - 1
    clv = model.discounted_clv(rfm)
    np.testing.assert_allclose(clv, present_value(effective, m), rtol=1e-12)
    # Neither the start of the month nor the nominal annual / 12 rate.
    start_of_month = present_value(effective, m - 1)
    nominal = present_value(annual / 12, m)
    assert np.all(np.abs(clv - start_of_month) > 1e-4 * clv)
    assert np.all(np.abs(clv - nominal) > 1e-4 * clv)
    # Twelve effective months compound to the annual rate: a revenue at month 12 is worth
    # 1 / 1.1 today.
    assert (1 + effective) ** -12 == pytest.approx(1 / (1 + annual), rel=1e-12)
    # Other terms, through predict's horizons: month m's expected revenue, discounted m twelfths
    # of a year at 25 % a year (so month 12 is discounted exactly 1.25).
    horizon = [model.predict(rfm, horizon_days=m * 365.25 / 12)["expected_value"].to_numpy()
               for m in range(13)]
    expected = sum((horizon[m] - horizon[m - 1]) / 1.25 ** (m / 12) for m in range(1, 13))
    clv = model.discounted_clv(rfm, months=12, annual_discount_rate=0.25)
    np.testing.assert_allclose(clv, expected, rtol=1e-9)


def customers_whose_first_order_tells(n: int, seed: int) -> pd.DataFrame:
    """Transactions over two years in which the first order's amount says how long a customer
    stays (big first baskets for years, small ones for two months on average): something the
    RFM summary of a new customer cannot show, and the correction can learn."""
    rng = np.random.default_rng(seed)
    big = rng.random(n) < 0.4
    rate = rng.gamma(1.0, 1 / 60, n)  # per day
    lifetime = rng.exponential(np.where(big, 1000.0, 60.0))
    first = rng.integers(0, 540, n).astype(float)  # customers keep arriving
    rows = [(np.arange(n), first, np.where(big, rng.gamma(20, 10, n), rng.gamma(4, 5, n)))]
    span = 730 - first
    count = rng.poisson(rate * np.minimum(span, lifetime))
    owner = np.repeat(np.arange(n), count)
    at = first[owner] + 1 + rng.random(owner.size) * (np.minimum(span, lifetime)[owner] - 1)
    rows.append((owner, at, rng.gamma(4, 12, owner.size)))
    owner, day, amount = (np.concatenate(parts) for parts in zip(*rows, strict=True))
    keep = day < 730
    return pd.DataFrame({
        "customer_id": pd.Series(owner[keep]).map("K{:05d}".format),
        "order_date": pd.Timestamp("2023-01-01") + pd.to_timedelta(day[keep].astype(int), "D"),
        "amount": amount[keep].round(2)})


def test_the_backtest_keeps_the_correction_only_when_it_helps_and_it_helps_the_holdout() -> None:
    data = customers_whose_first_order_tells(6_000, seed=3)
    end, horizon = pd.Timestamp("2024-06-30"), 180
    run = score_transactions(data, end, horizon)
    backtest = run.backtest
    assert backtest is not None and backtest.calibration_end == end - pd.Timedelta(days=180)
    assert backtest.winner.endswith("+ boosted correction"), backtest.text()
    assert run.model.correction is not None

    rfm = rfm_summary(data, end)
    actual = holdout_actuals(data, end, horizon)["purchases"].reindex(rfm.index, fill_value=0)
    classic = ValueModel(run.model.purchases, run.model.spend).predict(rfm, horizon)

    def rmse(predicted: pd.DataFrame) -> float:
        return float(np.sqrt(((predicted["expected_purchases"] - actual) ** 2).mean()))

    assert rmse(run.predictions) < 0.97 * rmse(classic)
    # The correction shares the purchase model's total out; it does not change it.
    assert run.predictions["expected_purchases"].sum() == pytest.approx(
        classic["expected_purchases"].sum(), rel=1e-9)


def test_without_a_signal_beyond_rfm_the_lightest_model_stays() -> None:
    # BG/NBD's own story: nothing for a heavier model or the correction to find.
    rng = np.random.default_rng(8)
    n = 4_000
    first = rng.integers(0, 120, n)
    rate = rng.gamma(0.5, 1 / 50, n)
    dropout = rng.beta(0.8, 2.5, n)
    rows = []
    for customer in range(n):
        day = int(first[customer])
        while day < 600:
            rows.append((f"C{customer}", day, round(float(rng.gamma(3, 15)), 2)))
            day += 1 + int(rng.exponential(1 / rate[customer]))
            if rng.random() < dropout[customer]:
                break
    frame = pd.DataFrame(rows, columns=["customer_id", "day", "amount"])
    data = frame.assign(order_date=pd.Timestamp("2023-01-01")
                        + pd.to_timedelta(frame.pop("day"), "D"))
    run = score_transactions(data, pd.Timestamp("2024-03-31"), 180)
    backtest = run.backtest  # the run's own choose_model
    assert backtest is not None
    assert backtest.winner == "BG/NBD", backtest.text()
    assert backtest.correction is None
    # BG/NBD keeps one-time buyers alive, so P(alive) comes from another fitted model.
    assert backtest.alive_model in (ModifiedBetaGeometricNBD, ParetoNBD)
    rfm = rfm_summary(data, pd.Timestamp("2024-03-31"))
    one_time = run.predictions.loc[rfm.index[rfm["frequency"] == 0], "probability_alive"]
    assert len(one_time) and (one_time < 1).all()


def test_the_backtest_split_stays_inside_the_calibration_window() -> None:
    data = pd.DataFrame({"customer_id": ["A", "B"], "amount": [1.0, 2.0],
                         "order_date": pd.to_datetime(["2024-01-01", "2024-03-01"])})
    end = pd.Timestamp("2024-12-31")
    assert backtest_split(data, end, 90) == (end - pd.Timedelta(days=90), 90)
    # At most half the window: the candidates see as much history as they must predict.
    assert backtest_split(data, end, 365) == (end - pd.Timedelta(days=182), 182)
    assert backtest_split(data, pd.Timestamp("2024-01-10"), 90) is None


def test_value_model_fit_is_the_two_sub_models_fitted_on_the_same_summary() -> None:
    x, t_x, T, _ = simulate(600, "mbg", (0.8, 6.0, 1.2, 3.5), 20.0, seed=5)
    rfm = pd.DataFrame({"frequency": x, "recency": t_x, "T": T,
                        "monetary_value": np.where(x > 0, 40.0 + 3.0 * x, 0.0)})
    for purchase_model, penalizer in ((BetaGeometricNBD, 0.0), (ModifiedBetaGeometricNBD, 0.1)):
        model = ValueModel.fit(rfm, penalizer, purchase_model=purchase_model)
        assert model.purchases == purchase_model.fit(x, t_x, T, penalizer)
        assert model.spend == GammaGamma.fit(rfm["frequency"], rfm["monetary_value"], penalizer)
        assert model.correction is None and model.alive is None
    assert isinstance(ValueModel.fit(rfm).purchases, BetaGeometricNBD)
    assert ValueModel.fit(rfm) == ValueModel.fit(rfm, DEFAULT_PENALIZER, BetaGeometricNBD)


def test_mbg_nbd_probability_alive_is_the_published_closed_form() -> None:
    r, alpha, a, b = 0.4, 60.0, 1.1, 4.5
    x, t_x = np.array([0.0, 1, 4, 4]), np.array([0.0, 20, 90, 30])
    T = np.array([50.0, 80, 100, 100])
    expected = 1 / (1 + a / (b + x) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    np.testing.assert_allclose(
        ModifiedBetaGeometricNBD(r, alpha, a, b).probability_alive(x, t_x, T), expected,
        rtol=1e-12)


def test_the_model_describes_itself_with_its_parameters_and_mean_spend() -> None:
    purchases = BetaGeometricNBD(0.4, 60.0, 1.1, 4.5)
    spend = GammaGamma(4.2, 4.0, 57.0)  # mean spend p v / (q - 1) = 79.80
    assert ValueModel(purchases, spend).describe() == (
        "purchases: BG/NBD: BG/NBD (days) r=0.4 alpha=60 a=1.1 b=4.5\n"
        "Gamma-Gamma: p=4.2 q=4 v=57  (mean spend per occasion 79.80)")
    alive = ModifiedBetaGeometricNBD(0.5, 70.0, 1.2, 4.0)
    assert ValueModel(purchases, spend, alive=alive).describe().splitlines()[1] == (
        "probability_alive: MBG/NBD (days) r=0.5 alpha=70 a=1.2 b=4"
        " (BG/NBD keeps every one-time buyer alive)")


def _penalised_objective(model_class, data, penalised: tuple[int, ...], penalizer: float):
    """The documented objective of each fit: minus the mean log-likelihood per customer plus
    ``penalizer`` times the squared logs of the unit-free parameters, over the customers."""
    def objective(log_params: np.ndarray) -> float:
        model = model_class(*np.exp(log_params))
        penalty = sum(log_params[i] ** 2 for i in penalised)
        return -model.log_likelihood(*data).mean() + penalizer * penalty / len(data[0])
    return objective


@pytest.mark.parametrize(("model_class", "penalised"), [
    (BetaGeometricNBD, (0, 2, 3)),  # r, a, b: alpha has the time unit
    (ModifiedBetaGeometricNBD, (0, 2, 3)),
    (ParetoNBD, (0, 2)),  # r, s
    (GammaGamma, (0, 1)),  # p, q: v has the money unit
])
def test_each_fit_is_the_minimum_of_its_documented_penalised_objective(model_class, penalised):
    cdnow = pd.read_csv(CDNOW)
    if model_class is GammaGamma:
        repeat = cdnow[(cdnow["x"] > 0) & (cdnow["zbar"] > 0)]
        data = (repeat["x"].to_numpy(float), repeat["zbar"].to_numpy(float))
    else:
        data = tuple(cdnow[c].to_numpy(float) for c in ("x", "t_x", "T"))
    penalizer = 0.05 * len(data[0])  # strong, so that a wrong penalty moves the optimum
    fitted = model_class.fit(*data, penalizer=penalizer)
    objective = _penalised_objective(model_class, data, penalised, penalizer)
    at_fit = np.log(astuple(fitted))
    best = objective(at_fit)
    for i in range(at_fit.size):
        for step in (-0.01, 0.01):
            moved = at_fit.copy()
            moved[i] += step
            assert objective(moved) > best - 1e-7, (i, step)


@pytest.mark.parametrize("model_class", [BetaGeometricNBD, ModifiedBetaGeometricNBD],
                         ids=lambda c: c.name)
def test_expected_purchases_at_a_equal_one_are_the_limit_either_side(model_class) -> None:
    x, t_x = np.array([0.0, 2, 5]), np.array([0.0, 30, 80])
    T = np.array([90.0, 90, 90])
    at_one = model_class(0.4, 60.0, 1.0, 4.5).expected_purchases(60, x, t_x, T)
    assert np.isfinite(at_one).all()
    # the formula's 0/0 at a = 1 is taken by continuity: the values either side agree
    for near in (1 - 1e-6, 1 + 1e-6):
        np.testing.assert_allclose(
            model_class(0.4, 60.0, near, 4.5).expected_purchases(60, x, t_x, T),
            at_one, rtol=1e-5)


def test_gamma_gamma_expected_spend_is_the_published_weighted_mean() -> None:
    p, q, v = 6.25, 3.74, 15.44
    x, m = np.array([0.0, 1, 4, 10]), np.array([0.0, 20.0, 35.0, 12.0])
    np.testing.assert_allclose(GammaGamma(p, q, v).expected_spend(x, m),
                               p * (v + x * m) / (p * x + q - 1), rtol=1e-12)


class _Doubled:
    """A correction that doubles every customer's expected purchases."""

    def factor(self, rfm: pd.DataFrame, purchases) -> np.ndarray:
        return np.full(len(rfm), 2.0)


def test_a_correction_scales_expected_purchases_value_and_clv_alike() -> None:
    rfm = pd.DataFrame({"frequency": [0.0, 1, 3], "recency": [0.0, 40, 80], "T": [90.0] * 3,
                        "monetary_value": [0.0, 30, 25]})
    purchases, spend = BetaGeometricNBD(0.4, 60.0, 1.1, 4.5), GammaGamma(4.2, 4.0, 57.0)
    plain = ValueModel(purchases, spend).predict(rfm, 90)
    doubled = ValueModel(purchases, spend, correction=_Doubled()).predict(rfm, 90)
    for column in ("expected_purchases", "expected_value", "clv"):
        np.testing.assert_allclose(doubled[column], 2 * plain[column], rtol=1e-12)
    pd.testing.assert_series_equal(doubled["probability_alive"], plain["probability_alive"])
