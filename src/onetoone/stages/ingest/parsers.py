"""Row-level validation of the file extracts: each line becomes a typed row or a quarantined one
with the field and a reason an operator can act on. Nothing here touches the database."""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime

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
# The range of the raw tables' integer columns (PostgreSQL integer).
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1
# Payload fields that staging reads as text: anything but a JSON string (or null) there would
# become a name or an e-mail like '{"a": 1}' or '5511987654321' without a trace.
WEB_TEXT_FIELDS = ("email", "first_name", "last_name", "phone", "city", "country",
                   "page_category", "url", "coupon_code", "order_id", "channel")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PADDED_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")


class FileRefused(Exception):
    """The whole file cannot be read as this entity (wrong header, empty file, ...)."""


@dataclass
class ParsedLine:
    line_number: int
    row: tuple | None = None
    problem: QuarantinedRow | None = None
    text: str | None = None  # of a typed row: quarantined as is if PostgreSQL refuses the row


def storable_text(raw: bytes) -> str:
    """Bytes as text PostgreSQL can hold, for whoever fixes them: undecodable bytes and NUL
    (which no text column holds) shown as the escapes \\xNN and \\x00."""
    return raw.decode("utf-8", "backslashreplace").replace("\x00", "\\x00")


def _decode(raw: bytes, line_number: int) -> tuple[str | None, QuarantinedRow | None]:
    if len(raw) > MAX_LINE_BYTES:
        return None, QuarantinedRow(
            line_number, None, f"line is {len(raw)} bytes, over the {MAX_LINE_BYTES} limit",
            storable_text(raw[:2000]) + "...", exact=False)
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as err:
        bad = raw[err.start:err.start + 1].hex()
        return None, QuarantinedRow(
            line_number, None,
            f"not valid UTF-8 (byte 0x{bad} at position {err.start}); re-export the file as "
            "UTF-8 (it looks like Latin-1/cp1252)", storable_text(raw), exact=False)


def _nul_problem(text: str, line_number: int, field: str | None) -> QuarantinedRow:
    return QuarantinedRow(
        line_number, field,
        f"a NUL byte (0x00) at position {text.index(chr(0))}{f' in {field}' if field else ''},"
        " which no text column can hold; remove it at the source and re-export the file",
        text.replace("\x00", "\\x00"), exact=False)


def _integer(text: str) -> int | None:
    """The value of a plain decimal integer in the raw integer range, else None (int() would
    also take '1_000', ' 12' or non-ASCII digits)."""
    if not _INTEGER.fullmatch(text):
        return None
    number = int(text)
    return number if INTEGER_MIN <= number <= INTEGER_MAX else None


def _call_time(text: str) -> datetime:
    """YYYY-MM-DD HH:MM:SS as strptime reads it; the usual zero-padded form the fast way."""
    if _PADDED_TIME.fullmatch(text):
        return datetime.fromisoformat(text)
    return datetime.strptime(text, "%Y-%m-%d %H:%M:%S")


def _not_an_integer(field: str, text: str) -> str:
    if _INTEGER.fullmatch(text):
        return f"{field} {text} is outside the integer range {INTEGER_MIN}..{INTEGER_MAX}"
    return f"not an integer: {text!r}"


def split_lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def csv_records(lines: list[bytes], width: int) -> Iterator[tuple[int, int, bytes]]:
    """(first line number, line count, bytes) of each record of a CSV file's data lines (the
    first of them is line 2). A field may hold a quoted line break: a line that leaves a quote
    open is joined with the next ones as long as that makes one well-formed record of ``width``
    fields. Otherwise the line stands alone (and is quarantined), so that one stray quote cannot
    swallow the lines after it."""
    index = 0
    while index < len(lines):
        line = lines[index]
        span = 1
        if line.count(b'"') % 2:
            joined, quotes = line, line.count(b'"')
            for end in range(index + 1, len(lines)):
                joined += b"\n" + lines[end]
                quotes += lines[end].count(b'"')
                if len(joined) > MAX_LINE_BYTES:
                    break
                if quotes % 2 == 0:
                    if _one_record(joined, width):
                        line, span = joined, end - index + 1
                    break
        yield index + 2, span, line
        index += span


def _csv_lines(text: str) -> list[str]:
    """The lines of a record for csv.reader, each keeping its line break (a quoted field's)."""
    if "\n" not in text:
        return [text]
    pieces = text.split("\n")
    return [piece + "\n" for piece in pieces[:-1]] + pieces[-1:]


def _one_record(raw: bytes, width: int) -> bool:
    try:
        records = list(csv.reader(_csv_lines(raw.decode("utf-8")), strict=True))
    except (UnicodeDecodeError, csv.Error):
        return False
    return len(records) == 1 and len(records[0]) == width


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
    if not data.removeprefix(b"\xef\xbb\xbf").strip():
        raise FileRefused("empty file: no header row")
    header_text, problem = _decode(lines[0], 1)
    if problem:
        raise FileRefused(f"header row is unreadable: {problem.reason}")
    header = read_calls_header(header_text)
    seen_ids: set[str] = set()
    for line_number, _span, raw in csv_records(lines[1:], len(header.columns)):
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
        records = list(csv.reader(_csv_lines(text), strict=True))
    except csv.Error as err:
        return bad(None, f"malformed CSV: {err}")
    if len(records) != 1:
        return bad(None, f"malformed CSV: {len(records)} records where one was expected")
    [fields] = records
    if "\x00" in text:
        with_nul = [header.columns[i] for i, f in enumerate(fields[:len(header.columns)])
                    if "\x00" in f]
        return ParsedLine(line_number, problem=_nul_problem(
            text, line_number, with_nul[0] if with_nul else None))
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
        called_at = _call_time(value["called_at"])
    except ValueError as err:
        if _PADDED_TIME.fullmatch(value["called_at"]):  # the format, but no such moment
            return bad("called_at", f"called_at {value['called_at']!r} is not a real date"
                       f" and time ({err})")
        return bad("called_at",
                   f"unparsable date {value['called_at']!r}, expected YYYY-MM-DD HH:MM:SS")
    duration = _integer(value["duration_seconds"])
    if duration is None:
        return bad("duration_seconds",
                   _not_an_integer("duration_seconds", value["duration_seconds"]))
    if duration < 0:
        return bad("duration_seconds", f"negative duration {duration}")
    satisfaction = None
    if value["satisfaction"]:
        satisfaction = _integer(value["satisfaction"])
        if satisfaction is None:
            return bad("satisfaction", _not_an_integer("satisfaction", value["satisfaction"]))
        if not 1 <= satisfaction <= 5:
            return bad("satisfaction", f"satisfaction {satisfaction} outside 1-5")
    complaint = value["is_complaint"].lower()
    if complaint not in ("true", "false"):
        return bad("is_complaint", f"expected true or false, found {value['is_complaint']!r}")
    seen_ids.add(value["call_id"])
    return ParsedLine(line_number, text=text, row=(
        value["call_id"], called_at, value["contact_id"], value["caller_name"] or None,
        value["phone"] or None, value["email"] or None, value["reason"] or None, duration,
        satisfaction, complaint == "true", value["resolution"] or None, value["agent_id"] or None,
    ))


def parse_web_ndjson(data: bytes) -> Iterator[ParsedLine]:
    """Validate a web-events NDJSON file; the whole object is kept as the row's payload."""
    # A byte order mark (some exports write one) is not part of the first event, and a file
    # of nothing else is as empty as a file of nothing.
    data = data.removeprefix(b"\xef\xbb\xbf")
    if not data.strip():
        raise FileRefused("empty file: no events; nothing is lost, but if the day had events"
                          " the export failed: have the file delivered again")
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
    if "\x00" in text:  # never valid JSON, and the line must be stored escaped
        return ParsedLine(line_number, problem=_nul_problem(text, line_number, None))
    try:
        event = _EVENT_DECODER.decode(text)
    except json.JSONDecodeError as err:
        return bad(None, f"not JSON: {err.msg} at column {err.colno}")
    except (ValueError, RecursionError) as err:  # a number of over 4300 digits, deep nesting
        return bad(None, f"not JSON PostgreSQL can store: {str(err).split(';')[0]}")
    if not isinstance(event, dict):
        return bad(None, f"expected a JSON object, found {type(event).__name__}")
    # Only an escape or NaN/Infinity can bring in a value jsonb refuses: skip the walk otherwise.
    unstorable = ("\\u" in text or "NaN" in text or "Infinity" in text) and \
        _unstorable_value(event)
    if unstorable:
        return bad(*unstorable)
    event_id = event.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        return bad("event_id", f"event_id must be a JSON string, found {_json_type(event_id)}")
    if not event_id:
        return bad("event_id", "event_id is missing or empty")
    if event_id in seen_ids:
        return bad("event_id", f"duplicate event_id {event_id} in the same file")
    event_type = event.get("event_type")
    if event_type not in WEB_EVENT_TYPES:
        return bad("event_type", f"unknown event_type {event_type!r}")
    occurred_raw = event.get("occurred_at")
    try:
        occurred_at = datetime.fromisoformat(occurred_raw)
    except (TypeError, ValueError) as err:
        if isinstance(err, ValueError) and not str(err).startswith("Invalid isoformat"):
            # ISO 8601 in form, but no such moment (2025-02-30, hour 25)
            return bad("occurred_at", f"occurred_at {occurred_raw!r} is not a real date and"
                       f" time ({err})")
        return bad("occurred_at", f"unparsable timestamp {_shown(occurred_raw)},"
                   " expected ISO 8601")
    if occurred_at.tzinfo is None:
        return bad("occurred_at", f"timestamp {occurred_raw!r} has no UTC offset")
    account_id = event.get("account_id")
    if account_id is not None and not isinstance(account_id, str):
        # the type only, as for the fields below
        return bad("account_id", "account_id must be a JSON string or null, found"
                   f" {_json_type(account_id)}")
    if account_id is None and event_type != "page_view":
        return bad("account_id", f"{event_type} event without account_id")
    for name in ("session_id", *WEB_TEXT_FIELDS):
        if event.get(name) is not None and not isinstance(event[name], str):
            # The type only: the value may be personal data.
            return bad(name, f"{name} must be a JSON string or null, found "
                       f"{_json_type(event[name])}"
                       + (" (a number loses leading zeros and the +)" if name == "phone" and
                          isinstance(event[name], int | float) else ""))
    birth_date = event.get("birth_date")
    if birth_date is not None and not _is_iso_date(birth_date):
        return bad("birth_date", f"birth_date is not a date as YYYY-MM-DD"
                   f" ({_json_type(birth_date)}); staging would drop it")
    granted = event.get("granted")
    if granted is not None and not isinstance(granted, bool) and (
            not isinstance(granted, str) or granted.lower() not in ("true", "false")):
        return bad("granted", f"granted must be true or false, found {_json_type(granted)}")
    seen_ids.add(event_id)
    return ParsedLine(line_number, text=text, row=(
        event_id, event_type, occurred_at, account_id, event.get("session_id"), text,
    ))


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent, if Python reads it as it is written (jsonb
    refuses an exponent past about +-16000; Python makes those infinite or zero)."""
    value = float(text)
    shown = f"{text[:20]}{'...' if len(text) > 20 else ''}"
    if math.isinf(value):
        raise ValueError(f"the number {shown} is too large")
    if value == 0 and any(digit in "123456789" for digit in text.lower().split("e")[0]):
        raise ValueError(f"the number {shown} is too small")
    return value


class _NonFinite(str):
    """NaN or Infinity in the JSON text (Python reads them, JSON and PostgreSQL do not)."""


# One decoder for every line (json.loads with hooks would build one a line).
_EVENT_DECODER = json.JSONDecoder(parse_constant=_NonFinite, parse_float=_finite_float)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    return "a string" if isinstance(value, str) else "null"


def _escaped(text: str) -> str:
    """A JSON key as text PostgreSQL can store: NUL and lone surrogates as their escapes."""
    return "".join(f"\\u{ord(char):04x}" if char == "\x00" or "\ud800" <= char <= "\udfff"
                   else char for char in text)


def _shown(value: object) -> str:
    """A value that is not a timestamp, in a reason: a string as it is, else only its type."""
    return repr(value) if isinstance(value, str) else f"({_json_type(value)})"


def _is_iso_date(value: object) -> bool:
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        return False
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _unstorable_value(event: dict) -> tuple[str, str] | None:
    """(field, reason) for the first value jsonb refuses: NaN/Infinity, the escape \\u0000, a
    lone surrogate escape (\\ud800). Nested values are named by their path (a.b[2])."""
    pending: list[tuple[str, object]] = [(key, value) for key, value in event.items()]
    while pending:
        path, value = pending.pop()
        # The field and reason are stored as text too: a key's NUL or surrogate as an escape.
        top, shown = (_escaped(part) for part in (re.split(r"[.\[]", path, maxsplit=1)[0], path))
        if isinstance(value, _NonFinite):
            return top, f"{shown}: {value} is not a JSON number; send null or a number"
        texts = [path]
        if isinstance(value, str):
            texts.append(value)
        for text in texts:
            if "\x00" in text:
                return top, f"{shown}: the escape \\u0000 (NUL), which no text can hold"
            if any("\ud800" <= char <= "\udfff" for char in text):
                return top, (f"{shown}: a lone UTF-16 surrogate escape (\\ud800-\\udfff),"
                             " not a character; the exporter must write valid UTF-8")
        if isinstance(value, dict):
            pending += [(f"{path}.{key}", item) for key, item in value.items()]
        elif isinstance(value, list):
            pending += [(f"{path}[{i}]", item) for i, item in enumerate(value)]
    return None


FileParser = Callable[[bytes], Iterator[ParsedLine]]
