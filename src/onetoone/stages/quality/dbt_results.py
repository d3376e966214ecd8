"""dbt's test results for auditors: a dbt invocation's ``run_results.json`` into
``audit.dbt_test_results``, one row per test, keyed by the run (``interval__<day>``).

dbt tests hold the key and relationship rules (README, "Data quality, for auditors"); their
outcome otherwise lives only in the dbt target folder and the task log. The daily DAG tests
each of its four dbt task groups in one invocation, so a run's tests come from several: each
replaces the rows of the tests it ran, and rerunning the day replaces that day's rows.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from onetoone.foundation.config import paths

# dbt's summary of a test's outcome; any other message (a database error) may quote data.
SUMMARY_MESSAGE = re.compile(r"Got \d+ results?, configured to (fail|warn) if [!=<>]+ ?\d+")
WITHHELD = "withheld: the message may quote data; see the dbt log"


def record_dbt_tests(conn: psycopg.Connection, *, run_id: str, as_of: datetime,
                     run_results: Path | None = None) -> int:
    """Store the tests of one dbt invocation (default: the target folder's latest
    ``run_results.json``) as run ``run_id``'s, in the caller's transaction; answer how many.
    A test this run already has a row for (a rerun of the day) is replaced."""
    path = run_results or paths().dbt_target / "run_results.json"
    try:
        artifact = json.loads(path.read_text(encoding="utf-8"))
        metadata = artifact["metadata"]
        invocation, generated_at = metadata["invocation_id"], metadata["generated_at"]
        results = artifact["results"]
        rows = [_row(run_id, as_of, invocation, generated_at, result) for result in results
                if str(result.get("unique_id", "")).startswith("test.")]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"{path}: not a dbt run_results.json ({error})") from None
    conn.execute("delete from audit.dbt_test_results where run_id = %s and unique_id = any(%s)",
                 (run_id, [row[2] for row in rows]))
    with conn.cursor() as cursor:
        cursor.executemany(
            """insert into audit.dbt_test_results (run_id, as_of, unique_id, invocation_id,
                   status, failures, message, execution_time, completed_at, generated_at)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            rows,
        )
    return len(rows)


def _row(run_id: str, as_of: datetime, invocation: str, generated_at: str,
         result: dict[str, Any]) -> tuple[Any, ...]:
    message = result.get("message")
    if message is not None and not SUMMARY_MESSAGE.fullmatch(str(message).strip()):
        message = WITHHELD
    completed = [t.get("completed_at") for t in result.get("timing") or []
                 if t.get("name") == "execute"]
    return (run_id, as_of, result["unique_id"], invocation, result["status"],
            result.get("failures"), message, result.get("execution_time"),
            completed[0] if completed else None, generated_at)
