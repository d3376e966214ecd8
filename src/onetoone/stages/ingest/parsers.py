"""Row-level validation of the file extracts: each line becomes a typed row or a quarantined one
with the field and a reason an operator can act on. Nothing here touches the database."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from onetoone.stages.ingest.ledger import QuarantinedRow

CALL_COLUMNS = (
    "call_id", "called_at", "contact_id", "caller_name", "phone", "email", "reason",
    "duration_seconds", "satisfaction", "is_complaint", "resolution", "agent_id",
)
WEB_EVENT_TYPES = frozenset({
    "registration", "profile_update", "login", "page_view", "newsletter_signup",
    "coupon_redemption", "consent_change",
})
# A line longer than this is not a call log row; refusing it protects the database and the logs.
MAX_LINE_BYTES = 64 * 1024


class FileRefused(Exception):
    """The whole file cannot be read as this entity (wrong header, empty file, ...)."""


@dataclass
class ParsedLine:
    line_number: int
    row: tuple | None = None
    problem: QuarantinedRow | None = None


def _decode(raw: bytes, line_number: int) -> tuple[str | None, QuarantinedRow | None]:
    if len(raw) > MAX_LINE_BYTES:
        return None, QuarantinedRow(
            line_number, None, f"line is {len(raw)} bytes, over the {MAX_LINE_BYTES} limit",
            raw[:2000].decode("utf-8", "backslashreplace") + "...", exact=False)
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        bad = raw[err.start:err.start + 1].hex()
        return None, QuarantinedRow(
            line_number, None,
            f"not valid UTF-8 (byte 0x{bad} at position {err.start}); re-export the file as "
            "UTF-8 (it looks like Latin-1/cp1252)",
            # backslashreplace shows the undecodable bytes as \xNN for whoever fixes the row
            raw.decode("utf-8", "backslashreplace"), exact=False)


def split_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


@dataclass(frozen=True)
class CallsHeader:
    """The columns of one call-center file, in its own order (the contract fixes the set)."""

    columns: tuple[str, ...]
    position: dict[str, int]  # contract column -> its index in this file


def read_calls_header(header_text: str) -> CallsHeader:
    """Check a call-center header against the contract; refuse the file if it drifted."""
    header = next(csv.reader([header_text.lstrip("\ufeff")]), [])
    missing = [c for c in CALL_COLUMNS if c not in header]
    extra = [c for c in header if c not in CALL_COLUMNS]
    if missing or extra:
        raise FileRefused(
            "header does not match the call-center contract"
            + (f"; missing columns: {', '.join(missing)}" if missing else "")
            + (f"; unexpected columns: {', '.join(extra)}" if extra else "")
        )
    return CallsHeader(tuple(header), {name: header.index(name) for name in CALL_COLUMNS})


def parse_calls_csv(data: bytes) -> Iterator[ParsedLine]:
    """Validate a call-center CSV. Lines are parsed one by one so that one unbalanced quote
    cannot swallow the lines after it."""
    lines = split_lines(data)
    if not lines:
        raise FileRefused("empty file: no header row")
    header_text, problem = _decode(lines[0], 1)
    if problem:
        raise FileRefused(f"header row is unreadable: {problem.reason}")
    header = read_calls_header(header_text)
    seen_ids: set[str] = set()
    for line_number, raw in enumerate(lines[1:], start=2):
        yield parse_call_line(raw, line_number, header, seen_ids)


def parse_call_line(raw: bytes, line_number: int, header: CallsHeader,
                    seen_ids: set[str]) -> ParsedLine:
    """One data line of a call-center file. ``seen_ids`` holds the call ids already accepted
    from the same file (a duplicate is quarantined) and is updated with this one."""
    text, problem = _decode(raw, line_number)
    if problem:
        return ParsedLine(line_number, problem=problem)
    return _parse_call(text, line_number, header, seen_ids)


def _parse_call(text: str, line_number: int, header: CallsHeader,
                seen_ids: set[str]) -> ParsedLine:
    def bad(field: str | None, reason: str) -> ParsedLine:
        return ParsedLine(line_number, problem=QuarantinedRow(line_number, field, reason, text))

    if not text.strip():
        return bad(None, "empty line")
    if text.count('"') % 2:
        return bad(None, "malformed CSV: unbalanced quote")
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as err:
        return bad(None, f"malformed CSV: {err}")
    if len(fields) != len(header.columns):
        return bad(None, f"malformed CSV: expected {len(header.columns)} fields,"
                   f" found {len(fields)}")
    value = {name: fields[i].strip() for name, i in header.position.items()}
    if not value["call_id"]:
        return bad("call_id", "call_id is empty")
    if value["call_id"] in seen_ids:
        return bad("call_id", f"duplicate call_id {value['call_id']} in the same file")
    if not value["contact_id"]:
        return bad("contact_id", "contact_id is empty")
    try:
        called_at = datetime.strptime(value["called_at"], "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return bad("called_at",
                   f"unparsable date {value['called_at']!r}, expected YYYY-MM-DD HH:MM:SS")
    try:
        duration = int(value["duration_seconds"])
    except ValueError:
        return bad("duration_seconds", f"not an integer: {value['duration_seconds']!r}")
    if duration < 0:
        return bad("duration_seconds", f"negative duration {duration}")
    satisfaction = None
    if value["satisfaction"]:
        try:
            satisfaction = int(value["satisfaction"])
        except ValueError:
            return bad("satisfaction", f"not an integer: {value['satisfaction']!r}")
        if not 1 <= satisfaction <= 5:
            return bad("satisfaction", f"satisfaction {satisfaction} outside 1-5")
    complaint = value["is_complaint"].lower()
    if complaint not in ("true", "false"):
        return bad("is_complaint", f"expected true or false, found {value['is_complaint']!r}")
    seen_ids.add(value["call_id"])
    return ParsedLine(line_number, row=(
        value["call_id"], called_at, value["contact_id"], value["caller_name"] or None,
        value["phone"] or None, value["email"] or None, value["reason"] or None, duration,
        satisfaction, complaint == "true", value["resolution"] or None, value["agent_id"] or None,
    ))


def parse_web_ndjson(data: bytes) -> Iterator[ParsedLine]:
    """Validate a web-events NDJSON file; the whole object is kept as the row's payload."""
    seen_ids: set[str] = set()
    for line_number, raw in enumerate(split_lines(data), start=1):
        yield parse_event_line(raw, line_number, seen_ids)


def parse_event_line(raw: bytes, line_number: int, seen_ids: set[str]) -> ParsedLine:
    """One line of a web-events file; ``seen_ids`` as for ``parse_call_line``."""
    text, problem = _decode(raw, line_number)
    if problem:
        return ParsedLine(line_number, problem=problem)
    return _parse_event(text, line_number, seen_ids)


def _parse_event(text: str, line_number: int, seen_ids: set[str]) -> ParsedLine:
    def bad(field: str | None, reason: str) -> ParsedLine:
        return ParsedLine(line_number, problem=QuarantinedRow(line_number, field, reason, text))

    if not text.strip():
        return bad(None, "empty line")
    try:
        event = json.loads(text)
    except json.JSONDecodeError as err:
        return bad(None, f"not JSON: {err.msg} at column {err.colno}")
    if not isinstance(event, dict):
        return bad(None, f"expected a JSON object, found {type(event).__name__}")
    event_id = event.get("event_id")
    if not isinstance(event_id, str) or not event_id:
        return bad("event_id", "event_id is missing or empty")
    if event_id in seen_ids:
        return bad("event_id", f"duplicate event_id {event_id} in the same file")
    event_type = event.get("event_type")
    if event_type not in WEB_EVENT_TYPES:
        return bad("event_type", f"unknown event_type {event_type!r}")
    occurred_raw = event.get("occurred_at")
    try:
        occurred_at = datetime.fromisoformat(occurred_raw)
    except (TypeError, ValueError):
        return bad("occurred_at", f"unparsable timestamp {occurred_raw!r}, expected ISO 8601")
    if occurred_at.tzinfo is None:
        return bad("occurred_at", f"timestamp {occurred_raw!r} has no UTC offset")
    account_id = event.get("account_id")
    if account_id is not None and not isinstance(account_id, str):
        return bad("account_id", f"account_id must be text or null, found {account_id!r}")
    if account_id is None and event_type != "page_view":
        return bad("account_id", f"{event_type} event without account_id")
    seen_ids.add(event_id)
    session_id = event.get("session_id")
    return ParsedLine(line_number, row=(
        event_id, event_type, occurred_at, account_id,
        str(session_id) if session_id is not None else None, text,
    ))


FileParser = Callable[[bytes], Iterator[ParsedLine]]
