"""Benchmark of the strategic-value models: every candidate side by side on the same split.

    .venv/bin/python bench/bench_value.py                 # CDNOW and generated data
    .venv/bin/python bench/bench_value.py --data cdnow    # or only one of them

For each data set the models are fitted on the calibration period and scored on the holdout
that follows it: BG/NBD, MBG/NBD and Pareto/NBD (each with Gamma-Gamma spend), each with the
boosted correction, and the model `onetoone value` chooses by its backtest inside the
calibration window. Printed per model: RMSE per customer of holdout purchase occasions,
aggregate purchases error, correlation, revenue error and seconds to fit.

- CDNOW: the master log of 23,570 customers' CD purchases (Jan 1997 - Jun 1998) that ships in
  the `lifetimes` 0.11.3 wheel. The wheel is downloaded once with pip (its SHA-256 pinned
  below and checked) into `$ONETOONE_HOME/cache`, and only its data file is read: the package
  is unmaintained and is neither installed nor imported. 39 weeks of calibration, 39 of holdout.
- generated: the generator's completed ERP orders (amount = sum over lines of quantity x
  unit_price - discount), keyed by the order's customer_id; orders with a broken (negative)
  line are left out, as the pipeline quarantines them. Calibration up to six months before the
  last order, then 180 days of holdout. docs/generated-customers.md says how the generated
  customers behave. The correction also gets what the warehouse knows as dated customer
  events: the categories, channels and statuses of the ERP orders, and calls (complaints by
  resolution, low satisfaction) and web logins joined to the ERP customer through the
  generator's truth file, i.e. with a perfect identity resolution (the pipeline's own is
  measured in the identity benchmarks). Rows marked "3 columns" use only the transactions;
  "events" the wide set above; "daily events" the vocabulary the daily run feeds the value
  step (dbt's intermediate.int_customer_events: call, complaint_resolved,
  complaint_unresolved, web_visit, order_returned, order_cancelled), derived here from the
  same files by the model's rules, joined through the truth file likewise.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from onetoone.foundation.config import paths
from onetoone.generate import generate
from onetoone.stages.value.hybrid import BoostedCorrection, with_events
from onetoone.stages.value.model import PURCHASE_MODELS, ValueModel
from onetoone.stages.value.rfm import holdout_actuals, rfm_summary
from onetoone.stages.value.scoring import score_transactions
from onetoone.stages.value.selection import backtest_split

LIFETIMES_WHEEL = "Lifetimes-0.11.3-py3-none-any.whl"
LIFETIMES_SHA256 = "261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8"
CDNOW_MEMBER = "lifetimes/datasets/CDNOW_master.txt"


@dataclass(frozen=True)
class Split:
    name: str
    transactions: pd.DataFrame
    calibration_end: pd.Timestamp
    holdout_days: int
    # label -> customer_id, event_date, event: the correction's variants beside "3 columns"
    events: dict[str, pd.DataFrame] | None = None


def fetch_lifetimes_wheel(cache: Path) -> Path:
    """The wheel from the package index with pip, hash-checked by pip and again here."""
    path = cache / LIFETIMES_WHEEL
    if not path.exists():
        pip = ([sys.executable, "-m", "pip"] if importlib.util.find_spec("pip")
               else [shutil.which("pip3") or shutil.which("pip") or ""])
        if not pip[0]:
            raise SystemExit("bench_value: no pip to download the lifetimes wheel; download "
                             f"{LIFETIMES_WHEEL} yourself and pass --wheel PATH")
        cache.mkdir(parents=True, exist_ok=True)
        requirement = cache / "lifetimes-requirement.txt"
        requirement.write_text(f"lifetimes==0.11.3 --hash=sha256:{LIFETIMES_SHA256}\n")
        subprocess.run([*pip, "download", "--quiet", "--no-deps", "--only-binary=:all:",
                        "--require-hashes", "-r", str(requirement), "-d", str(cache)],
                       check=True)
    return path


def cdnow_transactions(wheel: Path) -> pd.DataFrame:
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != LIFETIMES_SHA256:
        raise SystemExit(f"{wheel}: SHA-256 {digest} is not the published one; delete it")
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(CDNOW_MEMBER).decode("ascii")
    raw = pd.read_csv(io.StringIO(text), sep=r"\s+", dtype={"customer_id": str, "date": str})
    return pd.DataFrame({"customer_id": raw["customer_id"],
                         "order_date": pd.to_datetime(raw["date"], format="%Y%m%d"),
                         "amount": raw["dollar_value"].astype(float)})


def erp_transactions(erp_dir: Path) -> pd.DataFrame:
    """customer_id, order_date, amount of the completed orders with only valid lines."""
    orders = pd.read_csv(erp_dir / "orders.csv", dtype={"order_id": str, "customer_id": str})
    lines = pd.read_csv(erp_dir / "order_lines.csv", dtype={"order_id": str})
    lines["value"] = lines["quantity"] * lines["unit_price"] - lines["discount"]
    broken = lines.loc[(lines["quantity"] < 0) | (lines["unit_price"] < 0), "order_id"]
    amount = lines.groupby("order_id")["value"].sum().round(2).rename("amount")
    completed = orders[(orders["status"] == "completed") & ~orders["order_id"].isin(broken)]
    joined = completed.join(amount, on="order_id", how="inner")
    return pd.DataFrame({"customer_id": joined["customer_id"],
                         "order_date": pd.to_datetime(joined["ordered_at"].str.slice(0, 10)),
                         "amount": joined["amount"]})


def erp_events(erp_dir: Path) -> pd.DataFrame:
    """Per ERP order: its channel and status and the category of each line, as events."""
    orders = pd.read_csv(erp_dir / "orders.csv", dtype=str).reset_index(drop=True)
    lines = pd.read_csv(erp_dir / "order_lines.csv", dtype=str)
    products = pd.read_csv(erp_dir / "products.csv", dtype=str)
    orders["event_date"] = pd.to_datetime(orders["ordered_at"].str.slice(0, 10))
    category = lines.merge(products[["product_id", "category"]], on="product_id")
    category = category.merge(orders[["order_id", "customer_id", "event_date"]], on="order_id")
    return pd.concat([
        orders.assign(event="channel_" + orders["channel"]),
        orders[orders["status"] != "completed"].assign(event="order_" + orders["status"]),
        category.drop_duplicates(["order_id", "category"]).assign(
            event="category_" + category["category"]),
    ])[["customer_id", "event_date", "event"]]


def linked_events(sample: Path) -> pd.DataFrame:
    """Calls and web logins as events of the ERP customer records of the same person (the
    generator's truth: a perfect identity resolution)."""
    truth = pd.read_csv(sample / "truth" / "records.csv", dtype=str)
    erp = truth[truth["source"] == "erp"][["person_id", "source_record_id"]].rename(
        columns={"source_record_id": "customer_id"})
    frames = []
    for path in sorted((sample / "callcenter").glob("calls_*.csv")):
        frames.append(pd.read_csv(path, dtype=str, engine="python", on_bad_lines="skip",
                                  encoding_errors="replace"))
    calls = pd.concat(frames, ignore_index=True)
    calls["event_date"] = pd.to_datetime(calls["called_at"].str.slice(0, 10), errors="coerce")
    complaint = calls["is_complaint"] == "true"
    satisfaction = pd.to_numeric(calls["satisfaction"], errors="coerce")
    call_events = pd.concat([
        calls.assign(event="call"),
        calls[complaint].assign(event="complaint_" + calls["resolution"]),
        calls[satisfaction <= 2].assign(event="low_satisfaction"),
    ]).rename(columns={"contact_id": "source_record_id"}).assign(source="callcenter")
    logins = []
    for path in sorted((sample / "web").glob("events_*.ndjson")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"login"' in line:
                try:
                    event = json.loads(line)
                except ValueError:
                    continue
                logins.append((event.get("account_id"), str(event.get("occurred_at"))[:10]))
    web = pd.DataFrame(logins, columns=["source_record_id", "day"]).dropna()
    web = web.assign(event_date=pd.to_datetime(web["day"], errors="coerce"),
                     event="web_login", source="web")
    events = pd.concat([call_events[["source", "source_record_id", "event_date", "event"]],
                        web[["source", "source_record_id", "event_date", "event"]]])
    events = events.merge(truth[["source", "source_record_id", "person_id"]],
                          on=["source", "source_record_id"])
    return events.merge(erp, on="person_id")[["customer_id", "event_date", "event"]].dropna()


def _to_erp_customers(events: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Events of source records (source, source_record_id) as events of the ERP customer
    records of the same person (the generator's truth: a perfect identity resolution)."""
    erp = truth[truth["source"] == "erp"][["person_id", "source_record_id"]].rename(
        columns={"source_record_id": "customer_id"})
    events = events.merge(truth[["source", "source_record_id", "person_id"]],
                          on=["source", "source_record_id"])
    return events.merge(erp, on="person_id")[["customer_id", "event_date", "event"]].dropna()


def daily_events(sample: Path, before: pd.Timestamp) -> pd.DataFrame:
    """The daily run's event vocabulary (dbt_project/models/intermediate/int_customer_events.sql)
    from the generated files, before `before`: calls by whether they are complaints and put
    right, web sessions of accounts dated by their first event, orders now returned or
    cancelled dated by their last update; dates in UTC, the warehouse's time zone."""
    truth = pd.read_csv(sample / "truth" / "records.csv", dtype=str)
    calls = pd.concat([pd.read_csv(path, dtype=str, engine="python", on_bad_lines="skip",
                                   encoding_errors="replace")
                       for path in sorted((sample / "callcenter").glob("calls_*.csv"))],
                      ignore_index=True)
    complaint = calls["is_complaint"].str.lower() == "true"
    resolved = calls["resolution"].str.lower() == "resolved"
    calls = pd.DataFrame({
        "source": "callcenter", "source_record_id": calls["contact_id"],
        "event_date": pd.to_datetime(calls["called_at"].str.slice(0, 10), errors="coerce"),
        "event": np.select([~complaint, resolved], ["call", "complaint_resolved"],
                           "complaint_unresolved")})
    sessions = {}
    for path in sorted((sample / "web").glob("events_*.ndjson")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            if '"account_id":"' not in line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue
            key = (event.get("account_id"), event.get("session_id") or event.get("event_id"))
            at = str(event.get("occurred_at"))
            if key[0] and (key not in sessions or at < sessions[key]):
                sessions[key] = at
    visits = pd.DataFrame([(account, at) for (account, _), at in sessions.items()],
                          columns=["source_record_id", "at"])
    visits = pd.DataFrame({
        "source": "web", "source_record_id": visits["source_record_id"],
        "event_date": pd.to_datetime(visits["at"], utc=True, errors="coerce", format="ISO8601")
        .dt.tz_localize(None).dt.normalize(), "event": "web_visit"})
    orders = pd.read_csv(sample / "erp" / "orders.csv", dtype=str)
    orders = orders[orders["status"].isin(["returned", "cancelled"])]
    updated = pd.to_datetime(orders[["ordered_at", "updated_at"]].max(axis=1).str.slice(0, 10))
    # an order's events stay on its own ERP record, as its transactions do
    orders = pd.DataFrame({"customer_id": orders["customer_id"], "event_date": updated,
                           "event": "order_" + orders["status"]})
    linked = _to_erp_customers(pd.concat([calls, visits], ignore_index=True), truth)
    events = pd.concat([linked, orders], ignore_index=True)
    return events[events["event_date"] < before]


def candidates(split: Split):
    """(name, fitted ValueModel, seconds, events used) for every classic model, with and
    without the boosted correction; the correction is trained on the same inner split the
    backtest uses, from the transactions alone and, when the split has them, with events."""
    seen = split.transactions[split.transactions["order_date"] <= split.calibration_end]
    rfm = rfm_summary(seen, split.calibration_end)
    inner_end, inner_days = backtest_split(seen, split.calibration_end, split.holdout_days)
    inner = rfm_summary(seen, inner_end)
    inner_actual = (holdout_actuals(seen, inner_end, inner_days)["purchases"]
                    .reindex(inner.index, fill_value=0.0))
    variants = [("3 columns", None), *(split.events or {}).items()]
    for model_class in PURCHASE_MODELS:
        started = time.perf_counter()
        classic = ValueModel.fit(rfm, purchase_model=model_class)
        seconds = time.perf_counter() - started
        yield model_class.name, classic, seconds, None
        started = time.perf_counter()
        base = model_class.fit(inner["frequency"], inner["recency"], inner["T"])
        base_seconds = seconds + time.perf_counter() - started
        for label, events in variants:
            started = time.perf_counter()
            correction = BoostedCorrection.fit(with_events(inner, events, inner_end), base,
                                               inner_days, inner_actual)
            boosted = ValueModel(classic.purchases, classic.spend, correction=correction)
            name = boosted.name + (f", {label}" if len(variants) > 1 else "")
            yield name, boosted, base_seconds + time.perf_counter() - started, events


def figures(predicted: pd.DataFrame, rfm: pd.DataFrame, actual: pd.DataFrame) -> dict:
    actual = actual.reindex(rfm.index, fill_value=0.0)
    purchases, bought = predicted["expected_purchases"].to_numpy(), actual["purchases"].to_numpy()
    return {"rmse": float(np.sqrt(np.mean((purchases - bought) ** 2))),
            "aggregate": purchases.sum() / bought.sum() - 1,
            "correlation": float(np.corrcoef(purchases, bought)[0, 1]),
            "revenue": predicted["expected_value"].sum() / actual["revenue"].sum() - 1}


def bench(split: Split) -> None:
    seen = split.transactions[split.transactions["order_date"] <= split.calibration_end]
    rfm = rfm_summary(seen, split.calibration_end)
    actual = holdout_actuals(split.transactions, split.calibration_end, split.holdout_days)
    until = (split.calibration_end + pd.Timedelta(days=split.holdout_days)).date()
    print(f"\n{split.name}: {len(split.transactions):,} transactions, {len(rfm):,} customers "
          f"by the calibration end {split.calibration_end.date()}; holdout "
          f"{split.holdout_days} days to {until}, {int(actual['purchases'].sum()):,} occasions")
    print(f"  {'model':<52}{'RMSE':>7}{'aggregate':>11}{'correlation':>13}{'revenue':>9}"
          f"{'fit s':>8}")
    rows = []
    for name, model, seconds, events in candidates(split):
        scored = with_events(rfm, events, split.calibration_end)
        rows.append((name, figures(model.predict(scored, split.holdout_days), rfm, actual),
                     seconds))
    runs = [("3 columns", None), *(split.events or {}).items()]
    chosen_runs = []
    for label, events in runs:
        started = time.perf_counter()
        chosen = score_transactions(split.transactions, split.calibration_end,
                                    split.holdout_days, customer_events=events)
        seconds = time.perf_counter() - started
        suffix = f", {label}" if len(runs) > 1 else ""
        rows.append((f"chosen by backtest{suffix}: {chosen.model.name}",
                     figures(chosen.predictions, rfm, actual), seconds))
        chosen_runs.append((label, chosen))
    for name, f, seconds in rows:
        print(f"  {name:<52}{f['rmse']:>7.3f}{f['aggregate']:>+11.1%}"
              f"{f['correlation']:>13.3f}{f['revenue']:>+9.1%}{seconds:>8.2f}")
    for label, chosen in chosen_runs:
        print(f"\n  backtest ({label}):")
        print("\n".join("  " + line for line in chosen.backtest.text().splitlines()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["cdnow", "generated", "both"], default="both")
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {LIFETIMES_WHEEL}")
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    if args.data in ("cdnow", "both"):
        wheel = args.wheel or fetch_lifetimes_wheel(paths().home / "cache")
        first = pd.Timestamp("1997-01-01")
        bench(Split("CDNOW master log (lifetimes 0.11.3 wheel), 39 + 39 weeks",
                    cdnow_transactions(wheel), first + pd.Timedelta(weeks=39, days=-1), 273))
    if args.data in ("generated", "both"):
        with tempfile.TemporaryDirectory(prefix="onetoone-bench-value-") as tmp:
            sample = Path(tmp) / "sample"
            generate(sample, args.customers, args.seed, days=args.days)
            transactions = erp_transactions(sample / "erp")
            last = transactions["order_date"].max()
            events = {"events": pd.concat([erp_events(sample / "erp"), linked_events(sample)]),
                      "daily events": daily_events(sample, last + pd.Timedelta(days=1))}
        for label, frame in events.items():
            kinds = frame["event"].value_counts().sort_index()
            print(f"{label}: {len(frame):,} rows, {kinds.size} kinds: "
                  + ", ".join(f"{kind} {count:,}" for kind, count in kinds.items()))
        bench(Split(f"generated, {args.customers:,} customers, seed {args.seed}", transactions,
                    pd.Timestamp((last - pd.DateOffset(months=6)).date()), 180, events))


if __name__ == "__main__":
    main()
