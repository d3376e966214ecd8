"""Reading and validating a transactions file (`customer_id, order_date, amount`).

A bad row should stop the run with a message a person can act on: the file, the row number
as a spreadsheet shows it (the header is row 1) and the field. Extra columns are ignored.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

REQUIRED_COLUMNS = ("customer_id", "order_date", "amount")
# A calendar date first; pandas' ISO 8601 parser then checks any time and offset after it.
_DATE_PREFIX = r"^\d{4}-\d{2}-\d{2}(?:$|[T ])"


class ValueInputError(ValueError):
    """Transactions the value model cannot use; the message names the row and field."""


def read_transactions(path: str | Path) -> pd.DataFrame:
    """Read and validate a transactions CSV into `customer_id` (str), `order_date`
    (datetime64, the calendar day as written, time of day dropped) and `amount` (float)."""
    path = Path(path)
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except FileNotFoundError:
        raise ValueInputError(f"{path}: no such file") from None
    except pd.errors.EmptyDataError:
        raise ValueInputError(f"{path}: row 1 (header): the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError) as error:
        raise ValueInputError(f"{path}: not a readable CSV file: {error}") from None
    return validate_transactions(raw, source=str(path))


def validate_transactions(raw: pd.DataFrame, source: str = "transactions") -> pd.DataFrame:
    """Check and convert text columns as read from a CSV; raise `ValueInputError` naming the
    first bad row (row numbers count the header as row 1, so data row i is row i + 2)."""
    raw = raw.rename(columns=lambda name: str(name).strip())
    missing = [name for name in REQUIRED_COLUMNS if name not in raw.columns]
    if missing:
        found = ", ".join(map(str, raw.columns)) or "no columns"
        raise ValueInputError(f"{source}: row 1 (header): missing column "
                              f"{', '.join(repr(m) for m in missing)} (found: {found})")

    customer = raw["customer_id"].fillna("").astype(str).str.strip()
    date_text = raw["order_date"].fillna("").astype(str).str.strip()
    amount_text = raw["amount"].fillna("").astype(str).str.strip()

    parsed = pd.to_datetime(date_text, format="ISO8601", errors="coerce", utc=True)
    date_ok = date_text.str.match(_DATE_PREFIX) & parsed.notna()
    day = pd.to_datetime(date_text.str.slice(0, 10).where(date_ok), format="%Y-%m-%d")
    amount = pd.to_numeric(amount_text, errors="coerce")
    numeric_ok = np.isfinite(amount.to_numpy(dtype=float, na_value=np.nan))

    problems = [  # checked in this order on the first bad row
        ("customer_id", customer == "", lambda i: "empty customer_id"),
        ("order_date", ~date_ok,
         lambda i: f"cannot parse {date_text.iat[i]!r} as a date "
                   "(expected YYYY-MM-DD or an ISO 8601 datetime)"),
        ("amount", ~numeric_ok, lambda i: f"{amount_text.iat[i]!r} is not a number"),
        ("amount", numeric_ok & (amount < 0), lambda i: f"negative amount {amount_text.iat[i]}"),
    ]
    bad_rows = np.zeros(len(raw), dtype=bool)
    for _, mask, _ in problems:
        bad_rows |= np.asarray(mask, dtype=bool)
    if bad_rows.any():
        first = int(np.flatnonzero(bad_rows)[0])
        field, describe = next((f, d) for f, mask, d in problems if np.asarray(mask)[first])
        others = int(bad_rows.sum()) - 1
        more = f" ({others} more bad row{'s' if others != 1 else ''} after it)" if others else ""
        raise ValueInputError(f"{source}: row {first + 2}, field {field!r}: "
                              f"{describe(first)}{more}")

    return pd.DataFrame({"customer_id": customer, "order_date": day,
                         "amount": amount.astype(float)}).reset_index(drop=True)
