"""The warehouse's ``audit`` schema: every expectation result of every run, for auditors.

GX keeps its own JSON results and Data Docs on disk; these tables make the same facts queryable
next to the data. Rows are keyed by (run_id, layer): rerunning a layer for a run replaces them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg.types.json import Jsonb

from onetoone.foundation.db import apply_ddl
from onetoone.stages.quality.report import QualityReport


def ensure_schema(conn: psycopg.Connection) -> None:
    apply_ddl(conn, "onetoone.stages.quality")



@dataclass(frozen=True)
class SuiteRun:
    """One suite's validation in a run (a row of ``audit.validation_runs``)."""

    suite: str
    table: str
    started_at: datetime
    success: bool
    evaluated: int
    successful: int
    unsuccessful: int
    data_docs_path: str | None
    rows_checked: int  # 0: the suite saw no rows, so nothing was checked ('no data')


def latest_gate(conn: psycopg.Connection, layer: str) -> tuple[str, int] | None:
    """The layer's most recent recorded run: its run_id and how many critical checks failed."""
    return conn.execute(
        "select run_id, sum(critical_failed)::int from audit.validation_runs where layer = %s"
        " group by run_id order by max(started_at) desc limit 1", (layer,)).fetchone()


def record(
    warehouse_url: str,
    report: QualityReport,
    suite_runs: list[SuiteRun],
    batch_ids: list[int] | None,
) -> None:
    """Replace the audit rows of (run_id, layer) with this report, in one transaction."""
    key = {"run_id": report.run_id, "layer": report.layer}
    with psycopg.connect(warehouse_url) as conn, conn.transaction():
        conn.execute(
            "delete from audit.validation_runs where run_id = %(run_id)s and layer = %(layer)s", key
        )
        conn.execute(
            "delete from audit.expectation_results where run_id = %(run_id)s and layer = %(layer)s",
            key,
        )
        with conn.cursor() as cur:
            cur.executemany(
                """insert into audit.validation_runs (run_id, layer, suite, data_asset, as_of,
                       batch_ids, started_at, success, evaluated, successful, unsuccessful,
                       critical_failed, warning_failed, data_docs_path, rows_checked)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [
                    (
                        report.run_id,
                        report.layer,
                        run.suite,
                        run.table,
                        report.as_of,
                        batch_ids,
                        run.started_at,
                        run.success,
                        run.evaluated,
                        run.successful,
                        run.unsuccessful,
                        sum(c.suite == run.suite for c in report.critical_failures),
                        sum(c.suite == run.suite for c in report.warning_failures),
                        run.data_docs_path,
                        run.rows_checked,
                    )
                    for run in suite_runs
                ],
            )
            cur.executemany(
                """insert into audit.expectation_results (run_id, layer, suite, data_asset,
                       expectation_type, column_name, severity, why, success, observed_value,
                       element_count, unexpected_count, unexpected_percent,
                       partial_unexpected_list, kwargs, exception_message)
                   values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
                [
                    (
                        report.run_id,
                        report.layer,
                        check.suite,
                        check.table,
                        check.expectation_type,
                        check.column,
                        check.severity,
                        check.why,
                        check.success,
                        None if check.observed_value is None else Jsonb(check.observed_value),
                        check.element_count,
                        check.unexpected_count,
                        check.unexpected_percent,
                        Jsonb(check.sample),
                        Jsonb(check.kwargs),
                        check.exception_message,
                    )
                    for check in report.checks
                ],
            )
