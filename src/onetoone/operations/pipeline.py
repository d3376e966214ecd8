"""The pipeline's steps as plain functions: what each Airflow task calls, and what the command
line and tests call without Airflow. Each takes its connection strings explicitly (Airflow
resolves them from its connections), opens the connections and transactions its stages work in,
and returns a small summary for the task's XCom and log."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import psycopg

from onetoone.foundation.config import paths
from onetoone.foundation.runs import interval_run_id
from onetoone.operations.dbt_audit import record_dbt_test_results
from onetoone.operations.migrate import migrate_warehouse
from onetoone.operations.report import write_report
from onetoone.stages.identity import step as identity_step
from onetoone.stages.identity.dashboards import write_steward_dashboards
from onetoone.stages.ingest import IngestSummary, ingest_source
from onetoone.stages.ingest.ledger import (
    batches_awaiting_raw_gate,
    batches_of_run,
    record_raw_gate,
)
from onetoone.stages.quality import run_layer
from onetoone.stages.quality.audit import latest_gate
from onetoone.stages.serving.publish import publish_marts
from onetoone.stages.value.store import score_customers

log = logging.getLogger(__name__)

__all__ = ["PublishRefused", "check_quality", "identify", "ingest", "interval_run_id",
           "migrate_warehouse", "publish", "record_dbt_test_results", "report",
           "train_identity_model", "value"]


def ingest(source: str, *, warehouse: str, until: datetime, erp: str | None = None,
           run_id: str | None = None, landing: Path | None = None) -> IngestSummary:
    run_id = run_id or interval_run_id(until)
    with psycopg.connect(warehouse, autocommit=True) as conn:
        if source == "erp":
            with psycopg.connect(erp) as erp_conn:
                summary = ingest_source(source, warehouse=conn, erp=erp_conn, until=until,
                                        run_id=run_id)
        else:
            summary = ingest_source(source, warehouse=conn, until=until,
                                    landing=landing or paths().landing, run_id=run_id)
    log.info("ingested %s: %s", source, summary.totals())
    return summary


class PublishRefused(RuntimeError):
    """The marts build has not passed its quality gate: the published marts stay as they are."""


def publish(warehouse: str) -> list[dict]:
    """Publish the marts build, only if the latest marts quality gate passed (write-audit-
    publish: a task run by hand, or a retry, must not publish a build that failed its checks)."""
    with psycopg.connect(warehouse) as conn, conn.transaction():
        gate = latest_gate(conn, "marts")
        if gate is None:
            raise PublishRefused("publish refused: no marts quality check is recorded; run"
                                 " `check_quality('marts', ...)` on this build first")
        if gate[1]:
            raise PublishRefused(f"publish refused: the latest marts quality check (run"
                                 f" {gate[0]}) failed {gate[1]} critical check(s); the published"
                                 " marts keep their last good version")
        published = publish_marts(conn)
    return [{"table": t.name, "rows": t.rows} for t in published]


def report(warehouse: str, *, as_of: datetime) -> dict:
    """Write the run's report (see `operations.report`) as ``reports/report-<day>.html``, and
    the stewards' Splink dashboards of the review queue and the clusters worth a look."""
    out = paths().home / "reports" / f"report-{as_of.date().isoformat()}.html"
    with psycopg.connect(warehouse) as conn:
        path = write_report(conn, out)
        dashboards = write_steward_dashboards(conn)
    log.info("run report written to %s", path)
    return {"report": str(path),
            "comparison_viewer": str(dashboards.comparison_viewer or ""),
            "cluster_studio": str(dashboards.cluster_studio or ""),
            "clusters_shown": dashboards.clusters_shown}


def train_identity_model(warehouse: str) -> dict:
    """Train the Splink model on the current records and make it the one scoring uses."""
    with psycopg.connect(warehouse) as conn:
        return identity_step.train_current_model(conn)


def identify(warehouse: str, *, run_id: str | None = None, as_of: datetime) -> dict:
    """The identity step (stages/identity/step.py), written in one transaction: readers see the
    previous run's keys or this run's, never a mix."""
    with psycopg.connect(warehouse) as conn, conn.transaction():
        return identity_step.identify(conn, run_id=run_id or interval_run_id(as_of),
                                      as_of=as_of)


def check_quality(layer: str, warehouse: str, *, as_of: datetime, run_id: str | None = None,
                  ingested: list[dict] | None = None) -> dict:
    """Run a layer's Great Expectations suites; a critical failure raises (stopping the run
    before publish) with the failing checks, tables and sample rows in the message."""
    run_id = run_id or interval_run_id(as_of)
    batch_ids = None
    if ingested is not None:
        batch_ids = sorted({b for summary in ingested for b in summary["batch_ids"]})
    if layer == "raw" and batch_ids is not None:
        # This run's batches (also those an earlier try of the same interval loaded and this
        # one skipped, so a rerun checks what the first run checked and its results replace
        # the first run's alike) and every earlier one the gate has not passed.
        with psycopg.connect(warehouse) as conn:
            batch_ids = sorted(set(batch_ids) | set(batches_of_run(conn, run_id))
                               | set(batches_awaiting_raw_gate(conn)))
    report = run_layer(layer, run_id, as_of=as_of, batch_ids=batch_ids, warehouse=warehouse)
    if layer == "raw":
        with psycopg.connect(warehouse) as conn, conn.transaction():
            record_raw_gate(conn, batch_ids or [], passed=not report.critical_failures,
                            run_id=run_id)
    report.raise_on_critical()
    return {"layer": layer, "passed": report.passed_count, "checks": len(report.checks),
            "warnings_failed": len(report.warning_failures),
            "data_docs": str(report.data_docs_index)}


def value(warehouse: str, *, as_of: datetime, run_id: str | None = None) -> dict:
    """Strategic value of every customer (the model the backtest chose, with Gamma-Gamma
    spend), for the marts to read; refitted only when the refit policy asks for it
    (stages/value/fits.py)."""
    with psycopg.connect(warehouse) as conn, conn.transaction():
        return score_customers(conn, run_id=run_id or interval_run_id(as_of), as_of=as_of)
