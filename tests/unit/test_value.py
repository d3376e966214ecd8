"""Strategic value: the BG/NBD and Gamma-Gamma fits against published CDNOW results and data
simulated from known parameters, the RFM summary, input validation and the `value` command."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from onetoone.cli import value as value_cli
from onetoone.stages.value.io import ValueInputError, read_transactions
from onetoone.stages.value.model import BetaGeometricNBD, GammaGamma, ModelFitError, ValueModel
from onetoone.stages.value.rfm import holdout_actuals, rfm_summary
from onetoone.stages.value.scoring import score_transactions
from onetoone.stages.value.store import events_summary

CDNOW = Path(__file__).parents[1] / "fixtures" / "value" / "cdnow_summary.csv"
CDNOW_BG_NBD = (0.243, 4.414, 0.793, 2.426)  # r, alpha, a, b: [FHL05] section 5, in weeks
CDNOW_GAMMA_GAMMA = (6.25, 3.74, 15.44)  # p, q, v: [FHL05b] / Fader & Hardie (2013)


def simulate_bg_nbd(n: int, r: float, alpha: float, a: float, b: float, holdout: float,
                    seed: int) -> tuple[np.ndarray, ...]:
    """Customers from the BG/NBD story, in weeks: first purchase at 0, observed for
    T ~ U(26, 52) weeks, then `holdout` more. Returns x, t_x, T and holdout purchases."""
    rng = np.random.default_rng(seed)
    rate, dropout = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    T = rng.uniform(26, 52, n)
    end = T + holdout
    repeats_before_dropout = rng.geometric(dropout)  # drops out right after the k-th repeat
    # Poisson arrivals over the whole window are uniform given their count; keep the first ones.
    owner = np.repeat(np.arange(n), rng.poisson(rate * end))
    at = rng.random(owner.size) * end[owner]
    order = np.lexsort((at, owner))
    owner, at = owner[order], at[order]
    rank = np.arange(owner.size) - np.searchsorted(owner, owner)
    alive = rank < repeats_before_dropout[owner]
    owner, at = owner[alive], at[alive]
    calibration = at <= T[owner]
    x = np.bincount(owner[calibration], minlength=n).astype(float)
    t_x = np.zeros(n)
    np.maximum.at(t_x, owner[calibration], at[calibration])
    holdout_purchases = np.bincount(owner[~calibration], minlength=n).astype(float)
    return x, t_x, T, holdout_purchases


def test_bg_nbd_reproduces_the_published_cdnow_fit() -> None:
    cdnow = pd.read_csv(CDNOW)
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    model = BetaGeometricNBD.fit(x, t_x, T, penalizer=0)
    np.testing.assert_allclose([model.r, model.alpha, model.a, model.b], CDNOW_BG_NBD,
                               rtol=2e-3)
    assert model.log_likelihood(x, t_x, T).sum() == pytest.approx(-9582.4, abs=0.1)
    # [FHL05] section 5: a customer with x=2, t_x=30.43, T=38.86 makes 1.226 purchases in the
    # next 39 weeks.
    assert model.expected_purchases(39, 2, 30.43, 38.86)[()] == pytest.approx(1.226, abs=1e-3)
    # The default penalty barely moves a fit on 2,357 customers.
    default = BetaGeometricNBD.fit(x, t_x, T)
    np.testing.assert_allclose([default.r, default.alpha, default.a, default.b],
                               CDNOW_BG_NBD, rtol=0.02)


def test_gamma_gamma_reproduces_the_published_cdnow_fit() -> None:
    cdnow = pd.read_csv(CDNOW)
    model = GammaGamma.fit(cdnow["x"], cdnow["zbar"], penalizer=0)
    np.testing.assert_allclose([model.p, model.q, model.v], CDNOW_GAMMA_GAMMA, rtol=2e-3)
    # Customers without repeats get the population mean p v / (q - 1).
    assert model.expected_spend(0, 0.0)[()] == pytest.approx(
        model.p * model.v / (model.q - 1))


def test_bg_nbd_recovers_simulated_parameters_and_predicts_the_holdout() -> None:
    truth = (0.5, 8.0, 0.8, 2.5)
    x, t_x, T, holdout = simulate_bg_nbd(20_000, *truth, holdout=39, seed=7)
    model = BetaGeometricNBD.fit(x, t_x, T, penalizer=0)
    np.testing.assert_allclose([model.r, model.alpha], truth[:2], rtol=0.1)
    np.testing.assert_allclose([model.a, model.b], truth[2:], rtol=0.2)
    assert model.a / (model.a + model.b) == pytest.approx(0.8 / 3.3, abs=0.02)
    # The fit is at least as likely as the truth, and not implausibly more (chi-square, 4 df).
    excess = 2 * (model.log_likelihood(x, t_x, T).sum()
                  - BetaGeometricNBD(*truth).log_likelihood(x, t_x, T).sum())
    assert 0 <= excess < 18.5
    predicted = model.expected_purchases(39, x, t_x, T)
    assert predicted.sum() / holdout.sum() == pytest.approx(1, abs=0.05)
    # Customers seen to buy a lot before the calibration end are predicted to buy more.
    assert predicted[x >= 3].mean() > predicted[x == 0].mean()


def test_gamma_gamma_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(3)
    p, q, v = 4.0, 5.0, 120.0
    x = rng.integers(1, 10, 5_000).astype(float)
    spend_rate = rng.gamma(q, 1 / v, x.size)
    mean_spend = rng.gamma(p * x, 1 / (x * spend_rate))  # mean of x Gamma(p, rate) values
    model = GammaGamma.fit(x, mean_spend, penalizer=0)
    np.testing.assert_allclose([model.p, model.q, model.v], [p, q, v], rtol=0.15)
    assert model.p * model.v / (model.q - 1) == pytest.approx(p * v / (q - 1), rel=0.05)


def test_gamma_gamma_learns_spend_only_from_customers_with_repeats_of_positive_value() -> None:
    cdnow = pd.read_csv(CDNOW)
    fitted = GammaGamma.fit(cdnow["x"], cdnow["zbar"], penalizer=0)
    # no repeat (x = 0, whatever its value), or repeats worth nothing (a refund, a gift):
    # neither says anything about the spend per occasion; a value of 1 does
    x = np.r_[cdnow["x"], 0, 0, 3, 2]
    m = np.r_[cdnow["zbar"], 50.0, 0.0, 0.0, 0.5]
    assert GammaGamma.fit(x[:-1], m[:-1], penalizer=0) == fitted
    assert GammaGamma.fit(x, m, penalizer=0) != fitted


def test_gamma_gamma_needs_two_customers_with_repeats() -> None:
    two = GammaGamma.fit([1, 3, 0], [20.0, 35.0, 0.0])
    assert two.q > 1
    with pytest.raises(ModelFitError) as refused:
        GammaGamma.fit([1, 0, 0], [20.0, 0.0, 0.0])
    assert str(refused.value) == ("Gamma-Gamma: fewer than 2 customers with a repeat purchase "
                                  "before the calibration end; nothing to learn spend from")


def test_expected_purchases_grow_with_the_horizon() -> None:
    model = BetaGeometricNBD(0.243, 4.414, 0.793, 2.426)
    x, t_x, T = np.array([0, 1, 2, 7, 25]), np.array([0, 5, 30.4, 20, 38]), np.full(5, 38.9)
    horizons = [0, 1, 10, 39, 100, 500]
    curves = np.stack([model.expected_purchases(t, x, t_x, T) for t in horizons])
    assert np.all(curves[0] == 0)
    assert np.all(np.diff(curves, axis=0) > 0)


def transactions(rows: list[tuple[str, str, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"])
    return frame.assign(order_date=pd.to_datetime(frame["order_date"]))


def test_rfm_merges_same_day_purchases_and_ignores_later_data() -> None:
    data = transactions([
        ("A", "2024-01-01", 10), ("A", "2024-01-01", 5), ("A", "2024-01-11", 20),
        ("A", "2024-01-11", 4), ("A", "2024-01-31", 30), ("B", "2024-01-21", 50),
        ("A", "2024-02-05", 99), ("C", "2024-02-03", 7),  # after the calibration end
    ])
    rfm = rfm_summary(data, pd.Timestamp("2024-01-31"))
    assert list(rfm.index) == ["A", "B"] and rfm.index.name == "customer_id"
    assert (rfm[["frequency", "recency", "T"]].dtypes == "float64").all()  # the models' input
    assert rfm.loc["A"].drop("gap_cv").to_dict() == {"frequency": 2, "recency": 30, "T": 30,
                                                     "monetary_value": 27, "first_amount": 15}
    assert rfm.loc["B"].drop("gap_cv").to_dict() == {"frequency": 0, "recency": 0, "T": 10,
                                                     "monetary_value": 0, "first_amount": 50}
    assert rfm.loc["A", "gap_cv"] == pytest.approx(5 / 15)  # gaps of 10 and 20 days
    assert np.isnan(rfm.loc["B", "gap_cv"])
    actuals = holdout_actuals(data, pd.Timestamp("2024-01-31"), horizon_days=4)
    assert actuals.to_dict("index") == {"C": {"purchases": 1, "revenue": 7}}


def test_rfm_and_holdout_do_not_depend_on_the_order_of_the_rows() -> None:
    rows = [("B", "2024-01-21", 50), ("A", "2024-01-31", 30), ("A", "2024-01-11", 20),
            ("A", "2024-01-01", 10), ("C", "2024-02-03", 7), ("A", "2024-01-11", 4),
            ("B", "2024-01-05", 8), ("A", "2024-02-02", 3), ("A", "2024-01-01", 5)]
    shuffled, ordered = transactions(rows), transactions(sorted(rows))
    end = pd.Timestamp("2024-01-31")
    rfm = rfm_summary(shuffled, end)
    pd.testing.assert_frame_equal(rfm, rfm_summary(ordered, end))
    assert rfm["first_amount"].to_dict() == {"A": 15, "B": 8}  # the earliest day's, not row 1's
    actuals = holdout_actuals(shuffled, end, horizon_days=5)
    pd.testing.assert_frame_equal(actuals, holdout_actuals(ordered, end, horizon_days=5))
    assert list(actuals.index) == ["A", "C"] and actuals.index.name == "customer_id"
    assert actuals["purchases"].dtype == "float64"


def test_holdout_is_the_horizon_days_after_the_calibration_end_both_edges_included() -> None:
    # calibration end 2024-01-31, horizon 4: the holdout is Feb 1 to Feb 4, the whole last day.
    data = transactions([
        ("A", "2024-01-31 23:59", 1),  # the calibration end's own day: calibration, not holdout
        ("B", "2024-02-01 00:00", 2),  # first holdout day
        ("C", "2024-02-04 00:00", 3),  # last holdout day, at its start
        ("D", "2024-02-04 23:30", 4),  # last holdout day, late
        ("E", "2024-02-05 00:00", 5),  # the day after the holdout
    ])
    actuals = holdout_actuals(data, pd.Timestamp("2024-01-31"), horizon_days=4)
    assert actuals.to_dict("index") == {"B": {"purchases": 1, "revenue": 2},
                                        "C": {"purchases": 1, "revenue": 3},
                                        "D": {"purchases": 1, "revenue": 4}}


def test_data_after_the_calibration_end_do_not_change_the_fit() -> None:
    rng = np.random.default_rng(11)
    n = 800  # enough for the backtest to run; the size is not the point
    first = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 180, n), unit="D")
    repeat_owner = rng.integers(0, n, 4 * n)
    repeat_at = first[repeat_owner] + pd.to_timedelta(rng.integers(1, 600, 4 * n), unit="D")
    data = pd.DataFrame({"customer_id": [f"C{i}" for i in np.r_[np.arange(n), repeat_owner]],
                         "order_date": np.r_[first, repeat_at],
                         "amount": rng.gamma(3, 20, 5 * n).round(2)})
    end = pd.Timestamp("2024-12-31")
    full = score_transactions(data, end, horizon_days=90)
    cut = score_transactions(data[data["order_date"] <= end], end, horizon_days=90)
    assert full.model == cut.model
    pd.testing.assert_frame_equal(full.predictions, cut.predictions)
    assert full.report is not None and cut.report is None
    assert full.backtest is not None  # the backtest ran and chose the model


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize(("body", "message"), [
    ("customer_id,amount\nA,3\n", "row 1 (header): missing column 'order_date'"),
    ("customer_id,order_date,amount\nA,2024-01-01,3\nB,01/02/2024,4\n",
     "row 3, field 'order_date': cannot parse '01/02/2024' as a date"),
    ("customer_id,order_date,amount\nA,2024-01-01,3\nA,2024-02-30,4\n",
     "row 3, field 'order_date': cannot parse '2024-02-30'"),
    ("customer_id,order_date,amount\nA,2024-01-01,3\nA,2024-01-02,4\nB,2024-01-03,-5\n",
     "row 4, field 'amount': negative amount -5"),
    ("customer_id,order_date,amount\nA,2024-01-01,3 EUR\n",
     "row 2, field 'amount': '3 EUR' is not a number"),
    ("customer_id,order_date,amount\nA,2024-01-01,\n", "row 2, field 'amount': '' is not"),
    ("customer_id,order_date,amount\nA,2024-01-01,3\n,2024-01-02,4\nB,junk,-1\n",
     "row 3, field 'customer_id': empty customer_id (1 more bad row after it)"),
])
def test_bad_input_names_the_row_and_field(tmp_path: Path, body: str, message: str) -> None:
    path = write_csv(tmp_path / "tx.csv", body)
    with pytest.raises(ValueInputError) as raised:
        read_transactions(path)
    assert str(raised.value).startswith(f"{path}: ")
    assert message in str(raised.value)


def test_read_accepts_dates_and_datetimes_and_ignores_extra_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "tx.csv",
                     "note,customer_id,order_date,amount\n"
                     "x,A,2024-01-05,1.5\n"
                     "x,A,2024-01-05T23:30:00+02:00,2\n"
                     "x,B,2024-01-06 08:00:00,0\n")
    data = read_transactions(path)
    assert list(data.columns) == ["customer_id", "order_date", "amount"]
    assert list(data["order_date"].dt.strftime("%Y-%m-%d")) == ["2024-01-05"] * 2 + ["2024-01-06"]
    assert list(data["amount"]) == [1.5, 2.0, 0.0]


def value_command(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="onetoone")
    value_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["value", *argv])
    return args.func(args)


def small_transactions_csv(path: Path) -> Path:
    """A few hundred customers over two years, so the model has something to fit."""
    rng = np.random.default_rng(5)
    rows = []
    for customer in range(400):
        day = pd.Timestamp("2023-01-01") + pd.Timedelta(days=int(rng.integers(0, 365)))
        rate = rng.gamma(1.0, 1 / 40)
        while day <= pd.Timestamp("2024-12-31"):
            rows.append((f"K{customer:04d}", day.date().isoformat(), round(rng.gamma(4, 12), 2)))
            day += pd.Timedelta(days=int(rng.exponential(1 / rate)) + 1)
            if rng.random() < 0.15:
                break
    pd.DataFrame(rows, columns=["customer_id", "order_date", "amount"]).to_csv(path, index=False)
    return path


def test_value_command_writes_the_documented_columns(tmp_path: Path, capsys) -> None:
    source = small_transactions_csv(tmp_path / "tx.csv")
    out = tmp_path / "out" / "value.csv"
    code = value_command([str(source), "--calibration-end", "2024-06-30", "--horizon-days", "180",
                          "--output", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    written = pd.read_csv(out, dtype={"customer_id": str})
    assert list(written.columns) == ["customer_id", "expected_purchases", "expected_value",
                                     "probability_alive", "clv"]
    seen = pd.read_csv(source).query("order_date <= '2024-06-30'")["customer_id"].unique()
    assert sorted(written["customer_id"]) == sorted(seen)
    assert written["probability_alive"].between(0, 1).all()
    assert (written[["expected_purchases", "expected_value", "clv"]] >= 0).all().all()
    assert "Holdout check" in printed and "repeat purchases" in printed and "7+" in printed
    assert "Model choice: backtest" in printed and "<- chosen" in printed

    # Without data after the calibration end there is nothing to check against.
    code = value_command([str(source), "--calibration-end", "2025-01-31", "--horizon-days", "30",
                          "--output", str(out)])
    assert code == 0
    assert "no holdout check" in capsys.readouterr().out


def test_value_command_reports_bad_input_with_exit_code_2(tmp_path: Path, capsys) -> None:
    source = write_csv(tmp_path / "tx.csv", "customer_id,order_date,amount\nA,2024-01-01,-3\n")
    code = value_command([str(source), "--calibration-end", "2024-06-30", "--horizon-days", "30",
                          "--output", str(tmp_path / "out.csv")])
    assert code == 2
    assert "row 2, field 'amount': negative amount -3" in capsys.readouterr().err
    assert not (tmp_path / "out.csv").exists()


def test_run_value_cli_and_discounting(tmp_path: Path) -> None:
    source = small_transactions_csv(tmp_path / "tx.csv")
    text = value_cli.run_value_cli(source, date(2024, 6, 30), 90, tmp_path / "a.csv",
                                   discount_rate=0.0)
    assert "BG/NBD" in text and "Gamma-Gamma" in text
    undiscounted = pd.read_csv(tmp_path / "a.csv")["clv"]
    value_cli.run_value_cli(source, date(2024, 6, 30), 90, tmp_path / "b.csv",
                            discount_rate=0.25)
    discounted = pd.read_csv(tmp_path / "b.csv")["clv"]
    assert (discounted <= undiscounted).all() and discounted.sum() < undiscounted.sum()


def test_clv_without_discounting_is_the_expected_revenue_over_the_months() -> None:
    rfm = pd.DataFrame({"frequency": [0.0, 3.0], "recency": [0.0, 200.0], "T": [250.0, 260.0],
                        "monetary_value": [0.0, 42.0]})
    model = ValueModel(BetaGeometricNBD(0.4, 60.0, 1.1, 4.5), GammaGamma(4.2, 4.0, 57.0))
    clv = model.discounted_clv(rfm, months=12, annual_discount_rate=0.0)
    year = model.predict(rfm, horizon_days=365.25)["expected_value"].to_numpy()
    np.testing.assert_allclose(clv, year, rtol=1e-9)


def test_the_holdout_check_counts_the_last_day_the_data_cover() -> None:
    rng = np.random.default_rng(13)
    n = 2_000
    first = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 180, n), unit="D")
    repeat_owner = rng.integers(0, n, 4 * n)
    repeat_at = first[repeat_owner] + pd.to_timedelta(rng.integers(1, 400, 4 * n), unit="D")
    data = pd.DataFrame({"customer_id": [f"C{i}" for i in np.r_[np.arange(n), repeat_owner]],
                         "order_date": np.r_[first, repeat_at],
                         "amount": rng.gamma(3, 20, 5 * n).round(2)})
    end = pd.Timestamp("2024-12-31")
    last_day = end + pd.Timedelta(days=30)
    data = data[data["order_date"] <= last_day]
    # An order late on the data's last day, by a customer bought before the calibration end.
    data = pd.concat([data, pd.DataFrame({"customer_id": ["C0"],
                                          "order_date": [last_day + pd.Timedelta(hours=22)],
                                          "amount": [50.0]})], ignore_index=True)
    report = score_transactions(data, end, horizon_days=90).report
    assert report is not None and report.holdout_days == 30
    assert "to 2025-01-30" in report.text()
    known = set(data.loc[data["order_date"] <= end, "customer_id"])
    holdout = data[(data["order_date"] > end) & data["customer_id"].isin(known)]
    occasions = holdout.assign(day=holdout["order_date"].dt.normalize())[["customer_id", "day"]]
    assert report.actual_purchases == len(occasions.drop_duplicates())
    assert report.actual_revenue == pytest.approx(holdout["amount"].sum())


def test_events_summary_counts_rows_customers_and_kinds_only() -> None:
    events = pd.DataFrame({"customer_id": ["K1", "K1", "K2", "K3"],
                           "event_date": pd.to_datetime(["2025-01-01"] * 4),
                           "event": ["web_visit", "call", "web_visit", "order_returned"]})
    assert events_summary(events) == {
        "rows": 4, "customers": 3,
        "kinds": {"call": 1, "order_returned": 1, "web_visit": 2}}
    assert events_summary(events.iloc[:0]) == {"rows": 0, "customers": 0, "kinds": {}}
    assert events_summary(None) is None  # dbt has not built the events: none recorded
