"""`onetoone value TRANSACTIONS.csv --calibration-end DATE --horizon-days N --output OUT.csv`:
fit the strategic-value model on any transactions file and write one row per customer.

The project's `onetoone.cli` registers the sub-command with `register(commands)`.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

import pandas as pd

from onetoone.stages.value.io import ValueInputError, read_transactions
from onetoone.stages.value.model import (
    DEFAULT_ANNUAL_DISCOUNT_RATE,
    DEFAULT_CLV_MONTHS,
    ModelFitError,
)
from onetoone.stages.value.scoring import OUTPUT_COLUMNS, score_transactions

EXIT_BAD_INPUT = 2

DESCRIPTION = f"""\
Choose a purchase model (BG/NBD, MBG/NBD or Pareto/NBD, optionally with a boosted correction)
by a backtest inside the calibration window, fit it with Gamma-Gamma spend on the transactions
up to the calibration end (columns customer_id, order_date, amount; purchases on the same day
count as one occasion) and write one row per customer seen by then:
customer_id, {", ".join(OUTPUT_COLUMNS)}.
expected_purchases and expected_value cover the N days after the calibration end; clv is the
revenue expected over the next {DEFAULT_CLV_MONTHS} months, discounted monthly.
probability_alive is left empty when no model can tell (a one-time buyer when only BG/NBD
could be fitted). When the file has transactions after the calibration end, the holdout
accuracy is printed."""


def run_value_cli(path: str | Path, calibration_end: date, horizon_days: int, output: str | Path,
                  discount_rate: float = DEFAULT_ANNUAL_DISCOUNT_RATE) -> str:
    """Read, fit, write `output`; return the text to print (model, output, holdout check).
    Raises `ValueInputError` or `ModelFitError` with a message for the user."""
    transactions = read_transactions(path)
    run = score_transactions(transactions, pd.Timestamp(calibration_end), horizon_days,
                             annual_discount_rate=discount_rate)
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    table = run.predictions.round({"expected_purchases": 6, "expected_value": 2,
                                   "probability_alive": 6, "clv": 2})
    table.to_csv(output, index_label="customer_id")
    lines = [f"read {len(transactions):,} transactions; chose and fitted on the {len(table):,} "
             f"customers seen up to {calibration_end} in {run.fit_seconds:.2f} s"]
    lines += [run.backtest.text() if run.backtest else
              "calibration window too short for a backtest: BG/NBD"]
    lines += [run.model.describe(), f"wrote {len(table):,} customers to {output}", ""]
    lines.append(run.report.text() if run.report else
                 "no transactions after the calibration end: no holdout check")
    return "\n".join(lines)


def _calibration_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _positive_int(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a positive whole number of days: {text!r}")
    return int(text)


def _annual_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = -1.0
    if not 0 <= rate < 10:
        raise argparse.ArgumentTypeError(f"not an annual rate such as 0.10: {text!r}")
    return rate


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register the `value` sub-command; its `func` returns the exit code."""
    parser = subparsers.add_parser(
        "value", help="choose and fit the strategic-value model on transactions",
        description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("transactions", type=Path, metavar="TRANSACTIONS",
                        help="CSV with customer_id, order_date, amount (other columns ignored)")
    parser.add_argument("--calibration-end", type=_calibration_date, required=True,
                        metavar="DATE", help="last day of data the model may see (YYYY-MM-DD)")
    parser.add_argument("--horizon-days", type=_positive_int, required=True, metavar="N",
                        help="days after the calibration end to predict")
    parser.add_argument("--output", type=Path, required=True, metavar="OUT.csv")
    parser.add_argument("--discount-rate", type=_annual_rate,
                        default=DEFAULT_ANNUAL_DISCOUNT_RATE, metavar="RATE",
                        help="annual discount rate for clv (default %(default)s)")
    parser.set_defaults(func=run_from_args)
    return parser


def run_from_args(args: argparse.Namespace) -> int:
    """Run the parsed `value` command: print the report, or the error and exit code 2."""
    try:
        print(run_value_cli(args.transactions, args.calibration_end, args.horizon_days,
                            args.output, args.discount_rate))
    except (ValueInputError, ModelFitError) as error:
        print(f"onetoone value: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0
