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


def train_identity_model(warehouse: str) -> dict:
    """Train the Splink model on the current records and make it the one scoring uses."""
    import psycopg

    from onetoone import identity_store
    from onetoone.identity.linker import train
    from onetoone.identity.standardise import standardise

    with psycopg.connect(warehouse) as conn:
        records = standardise(identity_store.read_records(conn))
    model = train(records)
    path = identity_store.save_as_current(model)
    return {"model_version": model["model_version"], "records": len(records), "path": str(path)}


def identify(warehouse: str, *, run_id: str | None = None, as_of: datetime) -> dict:
    """Score the customer records with the current model, cluster under the steward overrides,
    assign stable keys, and record the key events and the review queue of uncertain pairs.

    Only new and changed records are scored when the previous run's scores are usable; a full
    re-scoring happens on a new model and at least every ``FULL_REBUILD_EVERY``.

    The first run on a new warehouse has no model yet: it trains one (and says so); afterwards
    the training DAG retrains on demand."""
    import psycopg

    from onetoone import identity_store
    from onetoone.identity.keys import assign_keys
    from onetoone.identity.linker import load_model, resolve_incremental
    from onetoone.identity.review import REVIEW_LOWER, review_queue
    from onetoone.identity.standardise import (
        INPUT_FINGERPRINT,
        display_values,
        standardise_reusing,
        standardise_version,
    )

    if not identity_store.current_model_path().exists():
        log.warning("no identity model yet: training one on this run's records")
        train_identity_model(warehouse)
    model = load_model(identity_store.current_model_path())
    run_id = run_id or f"manual__{as_of.isoformat()}"
    with psycopg.connect(warehouse) as conn:
        identity_store.ensure_schema(conn)
        overrides = identity_store.read_overrides(conn)
        previous = identity_store.read_scoring_state(model["model_version"], as_of)
        # a full rebuild standardises every record again too
        version = standardise_version()
        source_records = identity_store.read_records(conn)
        standardised = standardise_reusing(
            source_records,
            None if previous is None else identity_store.read_standardised_records(version))
        identity_store.write_standardised_records(standardised, version)
        records = standardised.drop(columns=INPUT_FINGERPRINT)
        scoring = resolve_incremental(records, model, previous, overrides=overrides,
                                      keep_pairs_from=REVIEW_LOWER)
        identity_store.write_scoring_state(scoring.state, full_rebuild=previous is None,
                                           as_of=as_of)
        resolution = scoring.resolution
        assignment = assign_keys(resolution.clusters, identity_store.read_previous_keys(conn),
                                 identity_store.read_retired_keys(conn))
        review = review_queue(resolution.pairs, model, overrides)
        written = identity_store.write_run(conn, assignment, review, run_id=run_id,
                                           model_version=model["model_version"],
                                           assigned_at=as_of,
                                           standardised=display_values(source_records,
                                                                       standardised))
    keys = assignment.keys
    events = assignment.events["event_type"].value_counts().sort_index()
    result = {"records": written["records"], "customers": int(keys["customer_key"].nunique()),
              "model_version": model["model_version"],
              "largest_cluster": int(keys["cluster_size"].max()) if len(keys) else 0,
              "key_events": {kind: int(n) for kind, n in events.items()},
              "overrides": len(overrides), "review_queue": written["review_queue"],
              "scoring": "full" if previous is None else "incremental",
              "records_scored": scoring.records_scored, "pairs_carried_over": scoring.pairs_kept}
    log.info("identity: %s", result)
    return result


def check_quality(layer: str, warehouse: str, *, run_id: str, as_of: datetime,
                  ingested: list[dict] | None = None) -> dict:
    """Run a layer's Great Expectations suites; a critical failure raises (stopping the run
    before publish) with the failing checks, tables and sample rows in the message."""
    import psycopg

    from onetoone.ingest.ledger import record_raw_gate
    from onetoone.quality import run_layer

    batch_ids = None
    if ingested is not None:
        batch_ids = sorted({b for summary in ingested for b in summary["batch_ids"]})
    if layer == "raw":
        batch_ids = _batches_for_raw_gate(warehouse, batch_ids)
    report = run_layer(layer, run_id, as_of=as_of, batch_ids=batch_ids, warehouse=warehouse)
    if layer == "raw":
        with psycopg.connect(warehouse) as conn:
            record_raw_gate(conn, batch_ids or [], passed=not report.critical_failures,
                            run_id=run_id)
    report.raise_on_critical()
    return {"layer": layer, "passed": report.passed_count, "checks": len(report.checks),
            "warnings_failed": len(report.warning_failures),
            "data_docs": str(report.data_docs_index)}


def _batches_for_raw_gate(warehouse: str, this_run: list[int] | None) -> list[int] | None:
    """This run's batches and every earlier one the gate has not passed: a retry that skips an
    unchanged file still has that file's rows checked. None (whole tables) stays None."""
    import psycopg

    from onetoone.ingest.ledger import batches_awaiting_raw_gate

    if this_run is None:
        return None
    with psycopg.connect(warehouse) as conn:
        return sorted(set(this_run) | set(batches_awaiting_raw_gate(conn)))


def value(warehouse: str, *, run_id: str, as_of: datetime) -> dict:
    """Strategic value of every customer (BG/NBD + Gamma-Gamma), for the marts to read."""
    from onetoone.value.store import score_customers

    return score_customers(warehouse, run_id=run_id, as_of=as_of)
