"""The batch ledger: every file or ERP window is one batch, loaded once; a rerun replaces it.

A batch is loaded inside one transaction (delete its previous rows, COPY the new ones, write its
quarantine rows, close the ledger row), so a crash never leaves half a batch behind and a rerun of
the same interval leaves the same tables.

A quarantine row is identified by its batch and its record (a file's line, an ERP row's key), so
a rerun that quarantines the same record again keeps its ``quarantine_id`` and whatever a steward
did with it: a correction re-processed into raw is loaded again with the batch.
"""

from __future__ import annotations

import itertools
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import psycopg

from onetoone.foundation import erasures
from onetoone.foundation.db import apply_ddl
from onetoone.stages.ingest.scrub import scrub_erased

if TYPE_CHECKING:
    from onetoone.stages.ingest.erp import ExtractContext

log = logging.getLogger(__name__)

RAW_DATA_TABLES = {
    ("callcenter", "calls"): "raw.callcenter_calls",
    ("web", "events"): "raw.web_events",
    ("erp", "customers"): "raw.erp_customers",
    ("erp", "products"): "raw.erp_products",
    ("erp", "orders"): "raw.erp_orders",
    ("erp", "order_lines"): "raw.erp_order_lines",
}


@dataclass
class QuarantinedRow:
    line_number: int | None
    field: str | None
    reason: str
    raw_record: str
    # False when raw_record is not the line as delivered (undecodable bytes shown as escapes, a
    # huge line cut short): re-processing it as it stands would load a garbled row.
    exact: bool = True
    # Which record of its batch this is, the same on every rerun: an ERP row's key; a file's
    # rows are known by line ("line 7") when this is None.
    record_key: str | None = None


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
    # Tables the scrub changed (rows of forgotten people loaded again): vacuumed after commit.
    scrubbed: dict[str, int] = field(default_factory=dict, repr=False)


def record_keys(rows: list[QuarantinedRow]) -> list[str]:
    """Each row's identity in its batch; a key seen before in the same batch gets ' #2', ..."""
    seen: Counter[str] = Counter()
    keys = []
    for row in rows:
        key = row.record_key or (f"line {row.line_number}" if row.line_number is not None
                                 else "record")
        seen[key] += 1
        keys.append(key if seen[key] == 1 else f"{key} #{seen[key]}")
    return keys


def _refusal(err: psycopg.Error) -> tuple[str | None, str]:
    """(column, reason) of a refused COPY row, without the value (it may be personal data)."""
    column = re.search(r", column (\w+)", err.diag.context or "")
    message = (err.diag.message_primary or err.sqlstate or "refused").split(': "')[0]
    return (column.group(1) if column else None,
            f"PostgreSQL refused the row: {message} (SQLSTATE {err.sqlstate})")


# pragma: no mutate start
# From here on the functions run statements on PostgreSQL: only the integration tests
# (tests/integration/test_ingest*.py, test_quarantine.py) reach them, and `make mutate` runs unit
# tests only (see README, Mutation testing). What they decide per row is pinned above.
# Who may change the raw layer's tables at the same time. The DDL (`create index if not
# exists` takes a SHARE lock on its table even when the index exists) locks raw.quarantine
# before the data tables, while a batch writes its data table before raw.quarantine: a
# migration (every CLI command runs one first) that met a running batch deadlocked with it.
# Taking this advisory lock before any table makes the order the same for everyone: a
# migration waits for the running batches (exclusive), a batch for a running migration
# (shared), and batches of different sources still load side by side.
RAW_SCHEMA_LOCK = "onetoone.raw_schema"


def lock_raw_layer(conn: psycopg.Connection, *, exclusive: bool = False) -> None:
    """Take, until the transaction ends and before touching any raw table, the locks of a
    writer of the raw layer, always in this order: the erasure lock (shared: a batch must not
    commit data of a person being forgotten; forget takes it exclusively and then writes raw
    tables, so taking it after them, at the scrub, deadlocked with a running erasure), then
    ``RAW_SCHEMA_LOCK``."""
    erasures.lock_for_load(conn)
    conn.execute(f"select pg_advisory_xact_lock{'' if exclusive else '_shared'}(hashtext(%s))",
                 (RAW_SCHEMA_LOCK,))


@contextmanager
def batch_transaction(conn: psycopg.Connection) -> Iterator[None]:
    """The transaction of one batch, its locks taken before it reads the ledger. Once it
    commits, the loader calls ``vacuum_scrubbed`` with the batch's ``scrubbed`` tables."""
    with conn.transaction():
        lock_raw_layer(conn)
        yield


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create or migrate the raw layer's tables (idempotent; run once per pipeline run). Waits
    for the batches being loaded, and holds off new ones until the caller's transaction ends."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (RAW_SCHEMA_LOCK,))
    apply_ddl(conn, "onetoone.stages.ingest")


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
                csv_header = null, raw_gate_passed = null, raw_gate_run_id = null,
                started_at = now(), finished_at = null
        returning batch_id
        """,
        (source, entity, source_ref, checksum, window_start, window_end, run_id),
    ).fetchone()[0]
    # New rows: the raw gate has not seen them (reset above). The quarantine rows stay until
    # close_batch matches them with the records quarantined again.
    table = RAW_DATA_TABLES[(source, entity)]
    conn.execute(f"delete from {table} where _batch_id = %s", (batch_id,))
    return batch_id


# Loads again, into a batch being reloaded, the rows re-processing had loaded into it; answers
# how many (quarantine.reload_reprocessed, handed in by ingest_source: the quarantine module
# builds on this one, so this one cannot import it).
Reloader = Callable[[psycopg.Connection, "BatchResult", "ExtractContext | None"], int]


def close_batch(
    conn: psycopg.Connection,
    result: BatchResult,
    *,
    source_file: str | None = None,
    erp_context: ExtractContext | None = None,
    reload_reprocessed: Reloader | None = None,
) -> BatchResult:
    """Write the batch's quarantine rows and its counts; the invariant read = loaded + quarantined
    is checked here so that no code path can lose a row silently.

    Rows re-processed into raw before (a steward's correction) are loaded again by
    ``reload_reprocessed``; an ERP batch needs ``erp_context`` for that, as re-processing does."""
    if result.rows_read != result.rows_loaded + len(result.quarantined):
        raise AssertionError(
            f"batch {result.batch_id} ({result.source_ref}): read {result.rows_read} rows but "
            f"loaded {result.rows_loaded} and quarantined {len(result.quarantined)}"
        )
    merge_quarantine(conn, result, source_file)
    reloaded = reload_reprocessed(conn, result, erp_context) if reload_reprocessed else 0
    result.rows_loaded += reloaded
    result.rows_quarantined = len(result.quarantined) - reloaded
    # Rerunning an old interval reloads the sources' own copies of forgotten people: erase them
    # again before the batch commits.
    result.scrubbed = scrub_erased(conn, result.batch_id)
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


# (field, reason) -> the quarantine row of a typed row PostgreSQL refused
RefusedRow = Callable[[str | None, str], QuarantinedRow]
# A typed row to COPY with what to quarantine if it is refused, or a row already quarantined.
RowToLoad = tuple[tuple, RefusedRow] | QuarantinedRow
REFUSED_BY_POSTGRES = (psycopg.errors.DataError, psycopg.errors.IntegrityError)
_COPY_CHUNK = 1000


def copy_batch_rows(conn: psycopg.Connection, result: BatchResult, copy_sql: str,
                    rows: Callable[[], Iterator[RowToLoad]]) -> None:
    """COPY a batch's typed rows, counting them in ``result``. The parsers and row checks keep
    out what raw cannot hold; should PostgreSQL still refuse a value, the rows are loaded again
    in chunks and the row it refuses is quarantined with its reason (without the value), so
    that one such row does not stop the batch. ``rows`` starts the rows afresh on each call."""
    try:
        with conn.transaction():
            _copy_counting(conn, result, copy_sql, rows(), isolate=False)
    except REFUSED_BY_POSTGRES as err:
        log.warning("%s: PostgreSQL refused a row (%s); loading again to quarantine it",
                    result.source_ref, err.sqlstate)
        result.rows_read = result.rows_loaded = 0
        result.quarantined = []
        _copy_counting(conn, result, copy_sql, rows(), isolate=True)


def _copy_counting(conn: psycopg.Connection, result: BatchResult, copy_sql: str,
                   rows: Iterable[RowToLoad], *, isolate: bool) -> None:
    if not isolate:  # streamed: a batch of millions of rows is never held in memory
        with conn.cursor().copy(copy_sql) as copy:
            for row in rows:
                result.rows_read += 1
                if isinstance(row, QuarantinedRow):
                    result.quarantined.append(row)
                else:
                    copy.write_row(row[0])
                    result.rows_loaded += 1
        return
    rows = iter(rows)
    for chunk in iter(lambda: list(itertools.islice(rows, _COPY_CHUNK)), []):
        typed = []
        for row in chunk:
            result.rows_read += 1
            if isinstance(row, QuarantinedRow):
                result.quarantined.append(row)
            else:
                typed.append(row)
        try:
            with conn.transaction():
                _copy(conn, copy_sql, typed)
            result.rows_loaded += len(typed)
        except REFUSED_BY_POSTGRES:
            for one in typed:
                try:
                    with conn.transaction():
                        _copy(conn, copy_sql, [one])
                    result.rows_loaded += 1
                except REFUSED_BY_POSTGRES as err:
                    result.quarantined.append(one[1](*_refusal(err)))


def _copy(conn: psycopg.Connection, copy_sql: str, rows: Iterable[tuple[tuple, RefusedRow]]
          ) -> None:
    with conn.cursor().copy(copy_sql) as copy:
        for values, _ in rows:
            copy.write_row(values)


def merge_quarantine(conn: psycopg.Connection, result: BatchResult,
                     source_file: str | None) -> None:
    """Make the batch's quarantine rows those of ``result.quarantined``, keeping the id and the
    steward's work of every record quarantined before:

    - same record, same text as before: the id, the correction and the re-processing stay (an
      open row without correction takes the new reason, code may have changed);
    - same record, changed text (the source changed it): the new text and reason, the row open
      again, the correction dropped since it was made for the old text;
    - a record no longer quarantined (it loads now, or left the window) loses its row; its
      attempts stay in raw.quarantine_attempts;
    - a new record gets a new id."""
    batch_id = result.batch_id
    if not result.quarantined:
        conn.execute("delete from raw.quarantine where batch_id = %s", (batch_id,))
        return
    conn.execute(
        "create temporary table if not exists quarantine_incoming (record_key text, line_number"
        " bigint, field text, reason text, raw_record text, raw_record_exact boolean)"
        " on commit delete rows")
    conn.execute("truncate quarantine_incoming")
    with conn.cursor().copy(
            "copy quarantine_incoming (record_key, line_number, field, reason, raw_record,"
            " raw_record_exact) from stdin") as copy:
        for row, key in zip(result.quarantined, record_keys(result.quarantined), strict=True):
            copy.write_row((key, row.line_number, row.field, row.reason, row.raw_record,
                            row.exact))
    conn.execute(
        "delete from raw.quarantine q where q.batch_id = %s and not exists (select 1 from"
        " quarantine_incoming n where n.record_key = q.record_key)", (batch_id,))
    conn.execute(
        """
        update raw.quarantine q
           set source_file = %(source_file)s, line_number = n.line_number,
               field = case when unchanged and (q.reprocessed_at is not null
                                                or q.corrected_record is not null)
                            then q.field else n.field end,
               reason = case
                   when unchanged and (q.reprocessed_at is not null
                                       or q.corrected_record is not null) then q.reason
                   when not unchanged and (q.reprocessed_at is not null
                                           or q.corrected_record is not null) then n.reason
                        || ' (the source changed this record after it was corrected or'
                        || ' re-processed; that no longer applies)'
                   else n.reason end,
               raw_record = n.raw_record, raw_record_exact = n.raw_record_exact,
               corrected_record = case when unchanged then q.corrected_record end,
               reprocessed_at = case when unchanged then q.reprocessed_at end,
               reprocessed_by = case when unchanged then q.reprocessed_by end,
               reprocessing_id = case when unchanged then q.reprocessing_id end
          from (select n.*, q2.quarantine_id,
                       q2.raw_record is not distinct from n.raw_record as unchanged
                  from quarantine_incoming n
                  join raw.quarantine q2 on q2.batch_id = %(batch_id)s
                                        and q2.record_key = n.record_key) n
         where q.quarantine_id = n.quarantine_id
        """, {"batch_id": batch_id, "source_file": source_file})
    conn.execute(
        "insert into raw.quarantine (batch_id, source, entity, source_file, line_number, field,"
        " reason, raw_record, raw_record_exact, record_key)"
        " select %s, %s, %s, %s, n.line_number, n.field, n.reason, n.raw_record,"
        " n.raw_record_exact, n.record_key from quarantine_incoming n"
        " where not exists (select 1 from raw.quarantine q where q.batch_id = %s"
        " and q.record_key = n.record_key) order by n.line_number, n.record_key",
        (batch_id, result.source, result.entity, source_file, batch_id))


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


def batches_of_run(conn: psycopg.Connection, run_id: str) -> list[int]:
    """Loaded batches an ingest under ``run_id`` wrote, this time or an earlier try of the same
    run (a retry or rerun skips unchanged files but keeps their batches)."""
    rows = conn.execute(
        "select batch_id from raw.load_batches where status = 'loaded' and run_id = %s"
        " order by batch_id", (run_id,)).fetchall()
    return [row[0] for row in rows]


def record_raw_gate(conn: psycopg.Connection, batch_ids: list[int], *, passed: bool,
                    run_id: str) -> None:
    conn.execute(
        "update raw.load_batches set raw_gate_passed = %s, raw_gate_run_id = %s"
        " where batch_id = any(%s)",
        (passed, run_id, batch_ids),
    )
# pragma: no mutate end
