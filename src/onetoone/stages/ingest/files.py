"""Loading the daily file extracts (call center CSV, web NDJSON) into the raw layer."""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import psycopg

from onetoone.stages.ingest.ledger import (
    BatchResult,
    QuarantinedRow,
    Reloader,
    RowToLoad,
    already_loaded,
    batch_transaction,
    close_batch,
    copy_batch_rows,
    loaded_elsewhere,
    open_batch,
)
from onetoone.stages.ingest.parsers import (
    CALL_COLUMNS,
    FileParser,
    FileRefused,
    ParsedLine,
    parse_call_line,
    parse_calls_csv,
    parse_event_line,
    parse_web_ndjson,
    read_calls_header,
    split_lines,
    storable_text,
)
from onetoone.stages.ingest.scrub import vacuum_scrubbed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileSource:
    source: str
    entity: str
    folder: str
    pattern: re.Pattern[str]
    parser: FileParser
    table: str
    columns: tuple[str, ...]  # as the parser types them, in order
    key: str  # unique within a file; a repeat is quarantined as a duplicate
    has_header: bool

    @property
    def copy_sql(self) -> str:
        return (f"copy {self.table} ({', '.join(self.columns)}, _batch_id, _source_file,"
                " _line_number) from stdin")


CALLCENTER_CALLS = FileSource(
    source="callcenter",
    entity="calls",
    folder="callcenter",
    # calls_<day>.csv from the call-center system; calls_<day>.<writer>.csv from another writer
    # of call-center records (the front line's), so that each owns its day's file
    pattern=re.compile(r"^calls_(\d{4}-\d{2}-\d{2})(?:\.[a-z][a-z0-9-]*)?\.csv$"),
    parser=parse_calls_csv,
    table="raw.callcenter_calls",
    columns=CALL_COLUMNS,
    key="call_id",
    has_header=True,
)
WEB_EVENTS = FileSource(
    source="web",
    entity="events",
    folder="web",
    pattern=re.compile(r"^events_(\d{4}-\d{2}-\d{2})\.ndjson$"),
    parser=parse_web_ndjson,
    table="raw.web_events",
    columns=("event_id", "event_type", "occurred_at", "account_id", "session_id", "payload"),
    key="event_id",
    has_header=False,
)
FILE_SOURCES = (CALLCENTER_CALLS, WEB_EVENTS)

LineParser = Callable[[bytes, int], ParsedLine]


def line_parser(spec: FileSource, csv_header: str | None, seen_ids: set[str]) -> LineParser:
    """The parser of one line of a file already loaded, as ingest applied it to that file.

    ``csv_header`` is the file's header as the ledger recorded it; ``seen_ids`` the keys loaded
    from the file, so that a line repeating one is still a duplicate."""
    if spec is WEB_EVENTS:
        return lambda raw, line_number: parse_event_line(raw, line_number, seen_ids)
    if csv_header is None:
        raise FileRefused("the ledger has no header for this file (loaded before headers were"
                          " recorded); have the source re-deliver it")
    header = read_calls_header(csv_header)
    return lambda raw, line_number: parse_call_line(raw, line_number, header, seen_ids)


def files_due(landing: Path, spec: FileSource, until: datetime) -> list[tuple[Path, date | None]]:
    """Every file in the source's folder; the dated ones only up to the end of the interval.
    Files with an unexpected name are returned with no date so that they are refused visibly."""
    folder = landing / spec.folder
    if not folder.is_dir():
        return []
    due = []
    for path in sorted(p for p in folder.iterdir() if p.is_file()):
        match = spec.pattern.match(path.name)
        if not match:
            due.append((path, None))
            continue
        day = date.fromisoformat(match.group(1))
        if day < until.date():
            due.append((path, day))
    return due


def load_files(
    conn: psycopg.Connection, landing: Path, spec: FileSource, *, until: datetime,
    run_id: str | None = None, reload_reprocessed: Reloader | None = None,
) -> list[BatchResult]:
    """Load every due file not yet in the ledger (or whose bytes changed), one transaction each."""
    results = []
    for path, day in files_due(landing, spec, until):
        data = path.read_bytes()
        checksum = hashlib.sha256(data).hexdigest()
        source_ref = str(path.relative_to(landing))
        with batch_transaction(conn):
            if already_loaded(conn, spec.source, spec.entity, source_ref, checksum):
                results.append(BatchResult(0, spec.source, spec.entity, source_ref, "skipped"))
                continue
            # Files without data rows (a quiet day: just a header) are alike by nature.
            has_rows = len(data.splitlines()) > (1 if spec.has_header else 0)
            duplicate_of = has_rows and loaded_elsewhere(conn, spec.source, spec.entity,
                                                         source_ref, checksum)
            # A daily file's window is its day, so row-count checks can find comparable days.
            window = (None, None) if day is None else (
                datetime.combine(day, time(), UTC), datetime.combine(day + timedelta(days=1),
                                                                      time(), UTC))
            batch_id = open_batch(conn, source=spec.source, entity=spec.entity,
                                  source_ref=source_ref, checksum=checksum, window_start=window[0],
                                  window_end=window[1], run_id=run_id)
            result = BatchResult(batch_id, spec.source, spec.entity, source_ref, "loaded")
            if day is None:
                _refuse(result, data, f"unexpected file name {path.name!r}; expected a name like "
                        f"{spec.pattern.pattern}")
            elif duplicate_of:
                _refuse(result, data, f"same bytes as {duplicate_of}, already loaded:"
                        " a duplicate delivery")
            else:
                if spec.has_header and data:
                    result.csv_header = storable_text(split_lines(data)[0])
                try:
                    _copy_rows(conn, spec, data, result, source_ref)
                except FileRefused as err:
                    _refuse(result, data, str(err))
            close_batch(conn, result, source_file=source_ref,
                        reload_reprocessed=reload_reprocessed)
        vacuum_scrubbed(conn, result.scrubbed)
        if result.status == "refused":
            log.warning("refused %s: %s", source_ref, result.message)
        elif result.rows_quarantined:
            log.warning("%s: %d of %d rows quarantined", source_ref, result.rows_quarantined,
                        result.rows_read)
        results.append(result)
    return results


def _copy_rows(conn: psycopg.Connection, spec: FileSource, data: bytes, result: BatchResult,
               source_ref: str) -> None:
    # Pull the first line before COPY starts: a refused header must not abort a COPY mid-stream.
    parsed = spec.parser(data)
    first = next(parsed, None)
    if first is None:
        return
    passes = []

    def rows() -> Iterator[RowToLoad]:
        # The first pass goes on from the line pulled; another one parses the file again.
        lines = itertools.chain([first], parsed) if not passes else spec.parser(data)
        passes.append(1)
        for line in lines:
            if line.problem:
                yield line.problem
            else:
                yield ((*line.row, result.batch_id, source_ref, line.line_number),
                       lambda field, reason, line=line: QuarantinedRow(
                           line.line_number, field, reason, line.text))

    copy_batch_rows(conn, result, spec.copy_sql, rows)


def _refuse(result: BatchResult, data: bytes, reason: str) -> None:
    """A refused file keeps every line in quarantine, so a fix can re-process it."""
    result.status = "refused"
    result.message = reason
    result.rows_loaded = 0
    result.quarantined = [
        QuarantinedRow(n, None, f"file refused: {reason}", storable_text(raw))
        for n, raw in enumerate(data.splitlines(), start=1)
    ]
    result.rows_read = len(result.quarantined)
