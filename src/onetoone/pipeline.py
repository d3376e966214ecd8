"""The pipeline's steps as plain functions: what each Airflow task calls, and what tests call
without Airflow. Each takes its connection strings explicitly (Airflow resolves them from its
connections) and returns a small JSON-able summary for the task's XCom and log."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from onetoone.config import paths

log = logging.getLogger(__name__)


def ingest(source: str, *, warehouse: str, erp: str, until: datetime, run_id: str | None = None,
           landing: Path | None = None) -> dict:
    from onetoone.ingest import ingest_source

    summary = ingest_source(source, warehouse_conninfo=warehouse, erp_conninfo=erp, until=until,
                            landing=landing or paths().landing, run_id=run_id)
    result = summary.as_dict()
    log.info("ingested %s: %s", source, {k: v for k, v in result.items() if k != "batch_ids"})
    return result


def publish(warehouse: str) -> list[dict]:
    from onetoone.publish import publish_marts

    return [{"table": t.name, "rows": t.rows} for t in publish_marts(warehouse)]
