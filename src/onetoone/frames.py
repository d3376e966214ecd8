"""Reading query results into pandas the fast way: COPY ... TO STDOUT as CSV."""

from __future__ import annotations

import io
from typing import Any

import pandas as pd
import psycopg


def read_query(conn: psycopg.Connection, query: str, **read_csv: Any) -> pd.DataFrame:
    """The rows of ``query`` as a DataFrame; ``read_csv`` options set the column types."""
    buffer = io.BytesIO()
    with conn.cursor().copy(f"copy ({query}) to stdout with (format csv, header true)") as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pd.read_csv(buffer, **read_csv)
