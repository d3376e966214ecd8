"""The batch ledger: every file or ERP window is one batch, loaded once; a rerun replaces it.

A batch is loaded inside one transaction (delete its previous rows, COPY the new ones, write its
quarantine rows, close the ledger row), so a crash never leaves half a batch behind and a rerun of
the same interval leaves the same tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import psycopg

from onetoone.foundation.db import apply_ddl
from onetoone.stages.ingest.scrub import scrub_erased

RAW_DATA_TABLES = {
    ("callcenter", "calls"): "raw.callcenter_calls",
    ("web", "events"): "raw.web_events",
    ("erp", "customers"): "raw.erp_customers",
    ("erp", "products"): "raw.erp_products",
    ("erp", "orders"): "raw.erp_orders",
    ("erp", "order_lines"): "raw.erp_order_lines",
}


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create or migrate the raw layer's tables (idempotent; run once per pipeline run)."""
    apply_ddl(conn, "onetoone.stages.ingest")


@dataclass
class QuarantinedRow:
    line_number: int | None
    field: str | None
    reason: str
    raw_record: str
    # False when raw_record is not the line as delivered (undecodable bytes shown as escapes, a
    # huge line cut short): re-processing it as it stands would load a garbled row.
    exact: bool = True


@dataclass
class BatchResult:
    batch_id: int
    source: str
    entity: str
    source_ref: str
    status: str  # loaded | skipped | refused
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    message: str | None = None
    # A CSV file's header as delivered: its quarantined lines are re-parsed against it later.
    csv_header: str | None = None
    quarantined: list[QuarantinedRow] = field(default_factory=list, repr=False)


def open_batch(
    conn: psycopg.Connection,
    *,
    source: str,
    entity: str,
    source_ref: str,
    checksum: str | None = None,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    run_id: str | None = None,
) -> int:
    """Register (or re-open) a batch and delete whatever an earlier load of it wrote."""
    batch_id = conn.execute(
        """
        insert into raw.load_batches
            (source, entity, source_ref, checksum, window_start, window_end, status, run_id)
        values (%s, %s, %s, %s, %s, %s, 'running', %s)
        on conflict (source, entity, source_ref) do update
            set checksum = excluded.checksum, window_start = excluded.window_start,
                window_end = excluded.window_end, status = 'running', run_id = excluded.run_id,
                rows_read = 0, rows_loaded = 0, rows_quarantined = 0, message = null,
                csv_header = null,
                started_at = now(), finished_at = null
        returning batch_id
        """,
        (source, entity, source_ref, checksum, window_start, window_end, run_id),
    ).fetchone()[0]
    table = RAW_DATA_TABLES[(source, entity)]
    conn.execute(f"delete from {table} where _batch_id = %s", (batch_id,))
    conn.execute("delete from raw.quarantine where batch_id = %s", (batch_id,))
    return batch_id


def close_batch(
    conn: psycopg.Connection,
    result: BatchResult,
    *,
    source_file: str | None = None,
) -> BatchResult:
    """Write the batch's quarantine rows and its counts; the invariant read = loaded + quarantined
    is checked here so that no code path can lose a row silently."""
    result.rows_quarantined = len(result.quarantined)
    if result.rows_read != result.rows_loaded + result.rows_quarantined:
        raise AssertionError(
            f"batch {result.batch_id} ({result.source_ref}): read {result.rows_read} rows but "
            f"loaded {result.rows_loaded} and quarantined {result.rows_quarantined}"
        )
    if result.quarantined:
        with conn.cursor().copy(
            "copy raw.quarantine (batch_id, source, entity, source_file, line_number, field,"
            " reason, raw_record, raw_record_exact) from stdin"
        ) as copy:
            for row in result.quarantined:
                copy.write_row(
                    (result.batch_id, result.source, result.entity, source_file,
                     row.line_number, row.field, row.reason, row.raw_record, row.exact)
                )
    # Rerunning an old interval reloads the sources' own copies of forgotten people: erase them
    # again before the batch commits.
    scrub_erased(conn, result.batch_id)
    conn.execute(
        """
        update raw.load_batches
           set status = %s, rows_read = %s, rows_loaded = %s, rows_quarantined = %s,
               message = %s, csv_header = %s, finished_at = now()
         where batch_id = %s
        """,
        (result.status, result.rows_read, result.rows_loaded, result.rows_quarantined,
         result.message, result.csv_header, result.batch_id),
    )
    return result


def already_loaded(conn: psycopg.Connection, source: str, entity: str, source_ref: str,
                   checksum: str) -> bool:
    """The same file with the same bytes went through before (loaded or refused): skip it."""
    row = conn.execute(
        "select 1 from raw.load_batches where source = %s and entity = %s and source_ref = %s"
        " and checksum = %s and status in ('loaded', 'refused')",
        (source, entity, source_ref, checksum),
    ).fetchone()
    return row is not None


def loaded_elsewhere(conn: psycopg.Connection, source: str, entity: str, source_ref: str,
                     checksum: str) -> str | None:
    """Another file with exactly these bytes is loaded already: a duplicate delivery."""
    row = conn.execute(
        "select source_ref from raw.load_batches where source = %s and entity = %s"
        " and checksum = %s and source_ref <> %s and status = 'loaded' order by batch_id limit 1",
        (source, entity, checksum, source_ref),
    ).fetchone()
    return row[0] if row else None




def batches_awaiting_raw_gate(conn: psycopg.Connection) -> list[int]:
    """Loaded batches the raw quality gate has not passed yet (failed before, or never run)."""
    rows = conn.execute(
        "select batch_id from raw.load_batches"
        " where status = 'loaded' and raw_gate_passed is not true order by batch_id"
    ).fetchall()
    return [row[0] for row in rows]


def record_raw_gate(conn: psycopg.Connection, batch_ids: list[int], *, passed: bool,
                    run_id: str) -> None:
    conn.execute(
        "update raw.load_batches set raw_gate_passed = %s, raw_gate_run_id = %s"
        " where batch_id = any(%s)",
        (passed, run_id, batch_ids),
    )
