"""Re-processing quarantined rows and then checking them as an ingest would: the ingest stage
re-processes, the quality stage runs the raw checks, and a critical failure takes it back."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import psycopg

from onetoone.stages.ingest.quarantine import ReprocessResult, Selection, reprocess, revert
from onetoone.stages.quality import QualityGateFailed, run_layer


def reprocess_and_check(
    warehouse: str, selection: Selection, *, requested_by: str, reason: str,
    corrections: dict[int, str] | None = None, method: str | None = None,
    erp: str | None = None, as_of: datetime | None = None,
) -> ReprocessResult:
    """``reprocess``, then the raw quality checks on the batches that received rows (results in
    ``audit`` under run ``reprocess-<id>``, Data Docs rebuilt). A critical failure reverts the
    re-processing; the result then says which check failed, on which table, with samples.

    ``as_of`` is the reference time of the date rules (default: now, when the fix is made)."""
    result = reprocess(warehouse, selection, requested_by=requested_by, reason=reason,
                       corrections=corrections, method=method, erp=erp)
    if not result.loaded:
        return result
    run_id = f"reprocess-{result.reprocessing_id}"
    report = run_layer("raw", run_id, as_of=as_of or datetime.now(UTC),
                       batch_ids=list(result.loaded_batch_ids), warehouse=warehouse)
    with psycopg.connect(warehouse) as conn:
        conn.execute("update raw.quarantine_reprocessings set quality_run_id = %s"
                     " where reprocessing_id = %s", (run_id, result.reprocessing_id))
    if report.passed:
        return result
    failure = str(QualityGateFailed(report))
    message = (f"re-processing #{result.reprocessing_id} was taken back: the rows passed their"
               f" row checks but the raw checks of their batches failed"
               f" (these cover the batches' other rows too).\n{failure}")
    revert(warehouse, result.reprocessing_id, message.splitlines()[0] + " " +
           "; ".join(f"{c.table}: {c.check_name}" for c in report.critical_failures))
    return replace(result, status="reverted", message=message)
