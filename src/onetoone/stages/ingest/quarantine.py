"""Reviewing quarantined rows and re-processing them after a fix.

Ingest keeps every rejected line in ``raw.quarantine`` with its batch, file, line, field and
reason. Three kinds of fix bring such a row into raw:

- the source delivers the file again: a changed file replaces its batch at the next ingest,
  quarantine rows included (nothing to do here);
- an engineer corrects the rows: ``export_csv`` writes them, the engineer edits the ``record``
  column, and ``reprocess`` with those corrections loads what now passes;
- code or reference data changed (a product now exists in the ERP, a parser accepts a new
  format): ``reprocess`` runs the stored text again.

Re-processing applies the parser or row check the row's source uses at ingest, in the context of
its batch (the file's own header, the keys the file already loaded, the ERP's current products).
A row that passes is loaded into its raw table in its original batch, with its original file and
line (ERP: extraction time) and ``_quarantine_id`` naming the quarantine row; that row is marked
re-processed (when, by whom, by which re-processing), never deleted. A row still bad keeps its
place in quarantine with the new reason. The batch's counts move from quarantined to loaded, so
``rows_read = rows_loaded + rows_quarantined`` holds, and it is asserted again.

Every re-processing is a row of ``raw.quarantine_reprocessings`` (who, why, how, counts) and
every attempt on a row one of ``raw.quarantine_attempts`` (outcome, reason before). The raw
quality checks then run on the batches that received rows, as after an ingest; a critical
failure takes the re-processing back (``revert``), so nothing reaches raw that ingest would not
have let through.
"""

from __future__ import annotations

import csv
import logging
import os
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import psycopg
from psycopg import sql

from onetoone.stages.ingest.erp import (
    ERP_TABLES_BY_ENTITY,
    ExtractContext,
    parse_erp_record,
    raw_columns,
)
from onetoone.stages.ingest.files import FILE_SOURCES, FileSource, line_parser
from onetoone.stages.ingest.ledger import RAW_DATA_TABLES, BatchResult, lock_raw_layer
from onetoone.stages.ingest.parsers import FileRefused
from onetoone.stages.ingest.scrub import scrub_erased, vacuum_scrubbed

log = logging.getLogger(__name__)

FILE_SPECS = {(spec.source, spec.entity): spec for spec in FILE_SOURCES}
# One re-processing at a time: two at once could load the same row twice.
REPROCESS_LOCK = "onetoone.quarantine_reprocess"
EXPORT_COLUMNS = ("quarantine_id", "batch_id", "source", "entity", "source_file", "line_number",
                  "field", "reason", "record_is_exact", "record")


class CorrectionsError(ValueError):
    """A corrections file that cannot be applied; nothing was changed."""


@dataclass(frozen=True)
class Selection:
    """Which quarantine rows: every filter given must hold (none given: all rows)."""

    source: str | None = None
    batch_id: int | None = None
    quarantine_ids: tuple[int, ...] = ()

    def condition(self) -> tuple[sql.Composable, dict]:
        parts = [sql.SQL("true")]
        if self.source:
            parts.append(sql.SQL("q.source = %(source)s"))
        if self.batch_id is not None:
            parts.append(sql.SQL("q.batch_id = %(batch_id)s"))
        if self.quarantine_ids:
            parts.append(sql.SQL("q.quarantine_id = any(%(ids)s)"))
        params = {"source": self.source, "batch_id": self.batch_id,
                  "ids": list(self.quarantine_ids)}
        return sql.SQL(" and ").join(parts), params


@dataclass(frozen=True)
class QuarantinedLine:
    """A quarantine row as a reviewer sees it; ``record`` is the latest correction if any."""

    quarantine_id: int
    batch_id: int
    source: str
    entity: str
    source_file: str | None
    line_number: int | None
    field: str | None
    reason: str
    record: str | None
    record_is_exact: bool
    reprocessed_at: datetime | None
    reprocessing_id: int | None

    @property
    def location(self) -> str:
        where = self.source_file or f"{self.source}.{self.entity}"
        return f"{where}:{self.line_number}" if self.line_number is not None else where


def list_quarantine(conn: psycopg.Connection, selection: Selection, *,
                    include_reprocessed: bool = False,
                    limit: int | None = None) -> list[QuarantinedLine]:
    """Quarantine rows for review, oldest file and line first; open ones only by default."""
    condition, params = selection.condition()
    if not include_reprocessed:
        condition = sql.SQL("{} and q.reprocessed_at is null").format(condition)
    query = sql.SQL(
        "select quarantine_id, batch_id, source, entity, source_file, line_number, field, reason,"
        " coalesce(corrected_record, raw_record), raw_record_exact or corrected_record is not null,"
        " reprocessed_at, reprocessing_id from raw.quarantine q where {}"
        " order by batch_id, line_number nulls last, quarantine_id {}"
    ).format(condition, sql.SQL("limit {}").format(sql.Literal(limit)) if limit else sql.SQL(""))
    return [QuarantinedLine(*row) for row in conn.execute(query, params)]


def export_csv(lines: list[QuarantinedLine], path: Path) -> None:
    """Write rows for correction: edit ``record``, keep ``quarantine_id``, import the file with
    ``reprocess(corrections=read_corrections(path))``."""
    # The rows hold personal data: the file is readable by its owner only.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)  # also when it existed with wider permissions
    with open(descriptor, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        for line in lines:
            writer.writerow((line.quarantine_id, line.batch_id, line.source, line.entity,
                             line.source_file, line.line_number, line.field, line.reason,
                             str(line.record_is_exact).lower(), line.record))


def read_corrections(path: Path) -> dict[int, str]:
    """quarantine_id -> corrected record, from a CSV as ``export_csv`` writes it (other columns
    are ignored). Refuses the whole file, naming row and field, if any row is unusable."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as source:
            reader = csv.DictReader(source)
            missing = [c for c in ("quarantine_id", "record") if c not in (reader.fieldnames or [])]
            if missing:
                raise CorrectionsError(
                    f"{path}: missing column(s) {', '.join(missing)}; start from the file"
                    " `onetoone quarantine list --csv` writes")
            corrections: dict[int, str] = {}
            for row_number, row in enumerate(reader, start=2):
                corrections.update([_correction(path, row_number, row, corrections)])
    except UnicodeDecodeError as err:
        raise CorrectionsError(f"{path}: not UTF-8 (byte {err.start}); save it as UTF-8 CSV"
                               ) from err
    if not corrections:
        raise CorrectionsError(f"{path}: no rows")
    return corrections


def _correction(path: Path, row_number: int, row: dict, seen: dict[int, str]) -> tuple[int, str]:
    where = f"{path}, row {row_number}"
    raw_id, record = row.get("quarantine_id"), row.get("record")
    try:
        quarantine_id = int(raw_id or "")
    except ValueError:
        raise CorrectionsError(f"{where}, field quarantine_id: not an integer: {raw_id!r}"
                               ) from None
    if quarantine_id in seen:
        raise CorrectionsError(f"{where}, field quarantine_id: {quarantine_id} appears twice")
    if record is None:
        raise CorrectionsError(f"{where}, field record: missing (the row has too few fields)")
    if "\x00" in record:
        raise CorrectionsError(f"{where}, field record: a NUL byte, which no text column can"
                               " hold; remove it (an exported \\x00 is its escape, not a NUL)")
    if "\r" in record:
        raise CorrectionsError(f"{where}, field record: a carriage return; save the file with"
                               " plain line breaks (a call record may hold one, quoted)")
    return quarantine_id, record


@dataclass(frozen=True)
class RowOutcome:
    quarantine_id: int
    location: str
    field: str | None
    reason: str


@dataclass(frozen=True)
class ReprocessResult:
    reprocessing_id: int
    status: str  # applied | reverted
    loaded: int
    loaded_batch_ids: tuple[int, ...]
    still_quarantined: tuple[RowOutcome, ...] = ()
    skipped: tuple[RowOutcome, ...] = ()
    message: str | None = None

    @property
    def attempted(self) -> int:
        return self.loaded + len(self.still_quarantined)

    def describe(self) -> str:
        lines = [f"re-processing #{self.reprocessing_id} {self.status}: {self.attempted} row(s)"
                 f" attempted, {self.loaded} loaded into raw,"
                 f" {len(self.still_quarantined)} still quarantined,"
                 f" {len(self.skipped)} skipped"]
        lines += [f"  still quarantined #{o.quarantine_id} {o.location}"
                  f"{f' [{o.field}]' if o.field else ''}: {o.reason}"
                  for o in self.still_quarantined]
        lines += [f"  skipped #{o.quarantine_id} {o.location}: {o.reason}" for o in self.skipped]
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)


@dataclass
class _Row:
    quarantine_id: int
    batch_id: int
    source: str
    entity: str
    source_file: str | None
    line_number: int | None
    reason: str
    raw_record: str | None
    raw_record_exact: bool
    corrected_record: str | None
    reprocessing_id: int | None = None

    @property
    def location(self) -> str:
        where = self.source_file or f"{self.source}.{self.entity}"
        return f"{where}:{self.line_number}" if self.line_number is not None else where


@dataclass
class _Outcomes:
    loaded: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    still: list[RowOutcome] = field(default_factory=list)
    skipped: list[RowOutcome] = field(default_factory=list)
    scrubbed: dict[str, int] = field(default_factory=dict)  # vacuumed after the commit


def reprocess(
    warehouse: str, selection: Selection, *, requested_by: str, reason: str,
    corrections: dict[int, str] | None = None, method: str | None = None,
    erp: str | None = None,
) -> ReprocessResult:
    """Re-process the selected open quarantine rows in one transaction (see the module doc).

    ``corrections`` (quarantine_id -> corrected record) limits the selection to those rows and
    uses the corrected text; otherwise the latest correction stored, else the text as delivered.
    ``erp`` (libpq URI of the ERP source) is needed for ERP rows: their check reads its products.
    Does not run the raw quality checks: ``reprocess_and_check`` does."""
    if not requested_by.strip() or not reason.strip():
        raise ValueError("say who re-processes (requested_by) and which fix it follows (reason)")
    if corrections is not None:
        selection = replace(selection, quarantine_ids=tuple(sorted(corrections)))
    with psycopg.connect(warehouse) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (REPROCESS_LOCK,))
        # Alone in the raw layer: no batch is loaded meanwhile.
        lock_raw_layer(conn, exclusive=True)
        if corrections is not None:
            _check_corrections_exist(conn, corrections)
        condition, params = selection.condition()
        # Lock the batches first: a re-delivered file must not replace one half-way.
        batch_ids = [r[0] for r in conn.execute(sql.SQL(
            "select b.batch_id from raw.load_batches b where b.batch_id in (select q.batch_id"
            " from raw.quarantine q where {} and q.reprocessed_at is null)"
            " order by b.batch_id for update").format(condition), params)]
        rows = [_Row(*r) for r in conn.execute(sql.SQL(
            "select quarantine_id, batch_id, source, entity, source_file, line_number, reason,"
            " raw_record, raw_record_exact, corrected_record from raw.quarantine q"
            " where {} and q.reprocessed_at is null"
            " order by batch_id, line_number nulls last, quarantine_id").format(condition),
            params)]
        reprocessing_id = conn.execute(
            "insert into raw.quarantine_reprocessings (requested_by, reason, method, status)"
            " values (%s, %s, %s, 'running') returning reprocessing_id",
            (requested_by, reason, method or _method(corrections)),
        ).fetchone()[0]
        outcomes = _Outcomes()
        if corrections is not None:
            outcomes.skipped += _already_reprocessed(conn, corrections)
        by_batch: dict[int, list[_Row]] = defaultdict(list)
        for row in rows:
            by_batch[row.batch_id].append(row)
        erp_context = _ErpContext(erp)
        for batch_id in batch_ids:
            _reprocess_batch(conn, batch_id, by_batch[batch_id], corrections or {},
                             reprocessing_id, requested_by, erp_context, outcomes)
        loaded = sum(len(ids) for ids in outcomes.loaded.values())
        conn.execute(
            "update raw.quarantine_reprocessings set status = 'applied', batch_ids = %s,"
            " rows_attempted = %s, rows_loaded = %s, rows_still_quarantined = %s,"
            " rows_skipped = %s where reprocessing_id = %s",
            (sorted(outcomes.loaded), loaded + len(outcomes.still), loaded,
             len(outcomes.still), len(outcomes.skipped), reprocessing_id))
    if outcomes.scrubbed:
        with psycopg.connect(warehouse, autocommit=True) as conn:
            vacuum_scrubbed(conn, outcomes.scrubbed)
    result = ReprocessResult(reprocessing_id, "applied", loaded, tuple(sorted(outcomes.loaded)),
                             tuple(outcomes.still), tuple(outcomes.skipped))
    log.info(result.describe())
    return result


def _method(corrections: dict[int, str] | None) -> str:
    return "stored text" if corrections is None else "corrections"


def _check_corrections_exist(conn: psycopg.Connection, corrections: dict[int, str]) -> None:
    known = {r[0] for r in conn.execute(
        "select quarantine_id from raw.quarantine where quarantine_id = any(%s)",
        (list(corrections),))}
    unknown = sorted(set(corrections) - known)
    if unknown:
        raise CorrectionsError(
            f"no quarantine row {', '.join(map(str, unknown[:10]))}"
            f"{' ...' if len(unknown) > 10 else ''}: its batch was replaced since the export"
            " (the file was delivered again) or the id was mistyped; export again")


def _already_reprocessed(conn: psycopg.Connection,
                         corrections: dict[int, str]) -> list[RowOutcome]:
    return [RowOutcome(quarantine_id, location, None,
                       f"already re-processed by #{by}; the correction was not used")
            for quarantine_id, location, by in conn.execute(
                "select quarantine_id, coalesce(source_file, source || '.' || entity)"
                " || coalesce(':' || line_number, ''), reprocessing_id from raw.quarantine"
                " where quarantine_id = any(%s) and reprocessed_at is not null"
                " order by quarantine_id", (list(corrections),))]


class _ErpContext:
    """The ERP's current products, read once and only if an ERP row is re-processed."""

    def __init__(self, erp: str | None) -> None:
        self.erp = erp
        self._context: ExtractContext | None = None

    def get(self) -> ExtractContext:
        if self._context is None:
            if not self.erp:
                raise ValueError("re-processing ERP rows needs the ERP source (erp=...): their"
                                 " check reads its products")
            with psycopg.connect(self.erp) as conn:
                self._context = ExtractContext(known_product_ids={
                    r[0] for r in conn.execute("select product_id from erp.products")})
        return self._context


def _reprocess_batch(conn: psycopg.Connection, batch_id: int, rows: list[_Row],
                     corrections: dict[int, str], reprocessing_id: int, requested_by: str,
                     erp: _ErpContext, outcomes: _Outcomes) -> None:
    source, entity, status, message, csv_header, window_end = conn.execute(
        "select source, entity, status, message, csv_header, window_end from raw.load_batches"
        " where batch_id = %s", (batch_id,)).fetchone()
    if status == "refused":
        outcomes.skipped += [RowOutcome(
            r.quarantine_id, r.location, None,
            f"its file was refused as a whole ({message}); have the file delivered again"
            " (a changed file replaces the batch at the next ingest)") for r in rows]
        return
    table = RAW_DATA_TABLES[(source, entity)]
    try:
        check = (_file_check(conn, FILE_SPECS[(source, entity)], batch_id, csv_header)
                 if (source, entity) in FILE_SPECS
                 else _erp_check(conn, entity, batch_id, window_end, erp.get()))
    except FileRefused as err:
        outcomes.skipped += [RowOutcome(r.quarantine_id, r.location, None, str(err))
                             for r in rows]
        return
    columns, values, attempts = check.columns, [], []
    for row in rows:
        text = corrections.get(row.quarantine_id, row.corrected_record or row.raw_record)
        used_correction = text is not None and text != row.raw_record
        if text is None:
            outcomes.skipped.append(RowOutcome(row.quarantine_id, row.location, None,
                                               "erased on request; nothing to re-process"))
            continue
        if not row.raw_record_exact and not used_correction:
            outcomes.skipped.append(RowOutcome(
                row.quarantine_id, row.location, None,
                "the stored text is not the line as delivered (undecodable bytes shown as"
                " \\xNN, or a line cut short): correct it (quarantine list --csv, then"
                " reprocess --corrections) or have the file delivered again"))
            continue
        typed, problem = check.parse(text, row)
        attempts.append((reprocessing_id, row.quarantine_id,
                         "still_quarantined" if problem else "loaded", used_correction,
                         row.reason))
        if problem:
            problem_field, problem_reason = problem
            outcomes.still.append(RowOutcome(row.quarantine_id, row.location, problem_field,
                                             problem_reason))
            conn.execute(
                "update raw.quarantine set field = %s, reason = %s, corrected_record = %s"
                " where quarantine_id = %s",
                (problem_field, problem_reason, text if used_correction else None,
                 row.quarantine_id))
            continue
        values.append(typed)
        outcomes.loaded[batch_id].append(row.quarantine_id)
        conn.execute(
            "update raw.quarantine set reprocessed_at = now(), reprocessed_by = %s,"
            " reprocessing_id = %s, corrected_record = %s where quarantine_id = %s",
            (requested_by, reprocessing_id, text if used_correction else None,
             row.quarantine_id))
    if values:
        with conn.cursor().copy(f"copy {table} ({', '.join(columns)}) from stdin") as copy:
            for row_values in values:
                copy.write_row(row_values)
    with conn.cursor() as cur:
        cur.executemany(
            "insert into raw.quarantine_attempts (reprocessing_id, quarantine_id, outcome,"
            " used_correction, reason_before) values (%s, %s, %s, %s, %s)", attempts)
    _recount(conn, batch_id, loaded_now=len(values))
    if values:
        # As after an ingest: rows of people forgotten meanwhile are erased before commit.
        outcomes.scrubbed.update(scrub_erased(conn, batch_id))


# (text, quarantine row) -> (the raw table's values, None) or (None, (field, reason))
RowParser = Callable[[str, "_Row"], tuple[tuple | None, tuple[str | None, str] | None]]


@dataclass(frozen=True)
class _BatchCheck:
    columns: tuple[str, ...]  # of the raw table, lineage included
    parse: RowParser


def _file_check(conn: psycopg.Connection, spec: FileSource, batch_id: int,
                csv_header: str | None) -> _BatchCheck:
    seen_ids = {r[0] for r in conn.execute(
        sql.SQL("select {} from {} where _batch_id = %s").format(
            sql.Identifier(spec.key), sql.SQL(spec.table)), (batch_id,))}
    parse_line = line_parser(spec, csv_header, seen_ids)

    def parse(text: str, row: _Row) -> tuple[tuple | None, tuple[str | None, str] | None]:
        parsed = parse_line(text.encode("utf-8"), row.line_number)
        if parsed.problem:
            return None, (parsed.problem.field, parsed.problem.reason)
        return (*parsed.row, batch_id, row.source_file, row.line_number, row.quarantine_id), None

    return _BatchCheck((*spec.columns, "_batch_id", "_source_file", "_line_number",
                        "_quarantine_id"), parse)


def _erp_check(conn: psycopg.Connection, entity: str, batch_id: int, window_end: datetime,
               context: ExtractContext) -> _BatchCheck:
    table = ERP_TABLES_BY_ENTITY[entity]
    columns = raw_columns(conn, entity)

    def parse(text: str, row: _Row) -> tuple[tuple | None, tuple[str | None, str] | None]:
        typed, problem = parse_erp_record(table, text, columns, context)
        if problem:
            return None, problem
        # Extracted, as far as lineage goes, when its batch was: the end of its window.
        return (*(typed[c] for c in table.columns), batch_id, window_end, row.quarantine_id), None

    return _BatchCheck((*table.columns, "_batch_id", "_extracted_at", "_quarantine_id"), parse)


def _recount(conn: psycopg.Connection, batch_id: int, *, loaded_now: int) -> None:
    """Move rows from quarantined to loaded in the ledger and assert nothing was lost. Rows
    added or taken back are rows the raw gate has not seen: its verdict is reset."""
    read, loaded, quarantined, source_ref = conn.execute(
        "update raw.load_batches set rows_loaded = rows_loaded + %s,"
        " rows_quarantined = (select count(*) from raw.quarantine"
        "   where batch_id = %s and reprocessed_at is null),"
        " raw_gate_passed = case when %s = 0 then raw_gate_passed end,"
        " raw_gate_run_id = case when %s = 0 then raw_gate_run_id end"
        " where batch_id = %s returning rows_read, rows_loaded, rows_quarantined, source_ref",
        (loaded_now, batch_id, loaded_now, loaded_now, batch_id)).fetchone()
    if read != loaded + quarantined:
        raise AssertionError(f"batch {batch_id} ({source_ref}): read {read} rows but loaded"
                             f" {loaded} and quarantined {quarantined}")


def reload_reprocessed(conn: psycopg.Connection, result: BatchResult,
                       erp_context: ExtractContext | None) -> int:
    """Load again, with the batch being reloaded, the rows re-processing had loaded into it (a
    rerun of the ERP window deleted them with the batch's rows; ``merge_quarantine`` kept their
    quarantine rows because the source sent the same record again). Each goes through its
    check again in the new batch; one that no longer passes is opened again with the reason.
    Answers the rows loaded."""
    rows = [_Row(*r) for r in conn.execute(
        "select quarantine_id, batch_id, source, entity, source_file, line_number, reason,"
        " raw_record, raw_record_exact, corrected_record, reprocessing_id from raw.quarantine"
        " where batch_id = %s and reprocessed_at is not null"
        " order by line_number nulls last, quarantine_id", (result.batch_id,))]
    if not rows:
        return 0
    key = (result.source, result.entity)
    try:
        if result.status == "refused":
            raise FileRefused(f"file refused: {result.message}")
        if key in FILE_SPECS:
            check = _file_check(conn, FILE_SPECS[key], result.batch_id, result.csv_header)
        else:
            if erp_context is None:
                raise ValueError("re-loading re-processed ERP rows needs the ERP's products")
            window_end = conn.execute("select window_end from raw.load_batches where"
                                      " batch_id = %s", (result.batch_id,)).fetchone()[0]
            check = _erp_check(conn, result.entity, result.batch_id, window_end, erp_context)
    except FileRefused as err:
        _reopen(conn, [(row, None, str(err)) for row in rows])
        return 0
    values, failed = [], []
    for row in rows:
        text = row.corrected_record or row.raw_record
        typed, problem = check.parse(text, row) if text is not None else (
            None, (None, "erased on request; nothing to re-process"))
        if problem:
            failed.append((row, *problem))
        else:
            values.append(typed)
    _reopen(conn, failed)
    if values:
        table = RAW_DATA_TABLES[key]
        with conn.cursor().copy(f"copy {table} ({', '.join(check.columns)}) from stdin") as copy:
            for row_values in values:
                copy.write_row(row_values)
        log.info("%s: %d re-processed row(s) loaded again with the batch", result.source_ref,
                 len(values))
    return len(values)


def _reopen(conn: psycopg.Connection, failed: list[tuple[_Row, str | None, str]]) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            "update raw.quarantine set reprocessed_at = null, reprocessed_by = null,"
            " reprocessing_id = null, field = %s, reason = %s where quarantine_id = %s",
            [(field_name, f"{reason} (re-processing #{row.reprocessing_id} had loaded it; the"
              " batch was loaded again and it no longer passes)", row.quarantine_id)
             for row, field_name, reason in failed])


def revert(warehouse: str, reprocessing_id: int, message: str) -> int:
    """Take a re-processing back: its rows leave raw, their quarantine rows open again with
    ``message`` as reason, the ledger counts return. Answers the rows taken back."""
    with psycopg.connect(warehouse) as conn, conn.transaction():
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (REPROCESS_LOCK,))
        lock_raw_layer(conn)
        rows = conn.execute(
            "select q.quarantine_id, q.batch_id, b.source, b.entity from raw.quarantine q"
            " join raw.load_batches b using (batch_id) where q.reprocessing_id = %s"
            " and q.reprocessed_at is not null order by b.batch_id for update of b",
            (reprocessing_id,)).fetchall()
        groups: dict[tuple[str, str], list[int]] = defaultdict(list)
        for quarantine_id, _, source, entity in rows:
            groups[(source, entity)].append(quarantine_id)
        removed: dict[int, int] = defaultdict(int)
        for key, ids in groups.items():
            for (batch_id,) in conn.execute(
                    f"delete from {RAW_DATA_TABLES[key]} where _quarantine_id = any(%s)"
                    " returning _batch_id", (ids,)):
                removed[batch_id] += 1
        conn.execute(
            "update raw.quarantine set reprocessed_at = null, reprocessed_by = null,"
            " reprocessing_id = null, field = null, reason = %s where reprocessing_id = %s"
            " and reprocessed_at is not null", (message, reprocessing_id))
        for batch_id in sorted({r[1] for r in rows}):
            _recount(conn, batch_id, loaded_now=-removed[batch_id])
        conn.execute("update raw.quarantine_reprocessings set status = 'reverted',"
                     " message = %s where reprocessing_id = %s", (message, reprocessing_id))
    return len(rows)
