"""Benchmark of the strategic-value model: holdout accuracy on generated data, fit time and
peak memory.

    .venv/bin/python bench/bench_value.py --customers 10000

Transactions are the generator's completed ERP orders (amount = sum over lines of
quantity x unit_price - discount), keyed by the order's customer_id; orders with a broken
(negative) line are left out, as the pipeline quarantines them. The model is fitted on the data
up to six months before the last order and checked on the 180 days after that.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

from onetoone.cli.value import run_value_cli
from onetoone.generate import generate

HORIZON_DAYS = 180


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
                         "order_date": joined["ordered_at"].str.slice(0, 10),
                         "amount": joined["amount"]})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="onetoone-bench-value-") as tmp:
        out = Path(tmp)
        generate(out / "sample", args.customers, args.seed, days=args.days)
        transactions = erp_transactions(out / "sample" / "erp")
        path = out / "transactions.csv"
        transactions.to_csv(path, index=False)
        last = pd.Timestamp(transactions["order_date"].max())
        calibration_end = (last - pd.DateOffset(months=6)).date()

        started = time.perf_counter()
        text = run_value_cli(path, calibration_end, HORIZON_DAYS, out / "value.csv")
        seconds = time.perf_counter() - started

    print(f"customers generated  {args.customers:>10,}")
    print(f"transactions         {len(transactions):>10,}  "
          f"({transactions['customer_id'].nunique():,} customer ids, last order {last.date()})")
    print(text)
    print()
    print(f"read + fit + score + write  {seconds:.2f} s")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory MB              {peak_mb:,.0f}")


if __name__ == "__main__":
    main()
