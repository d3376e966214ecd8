"""Every bad input the ingest knows of (issue #15's list and the ones found since), through the
real loader into the real PostgreSQL, one file each: what it gets (quarantined with which field
and reason, loaded, or the file refused with which message), where the quarantine row says it
is (file, line, field), that the rest of the file loads, and that no personal value reaches
the log or a reason. docs/bad_inputs.md is this table for people; keep the two together."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from onetoone.operations import pipeline
from onetoone.stages.ingest.parsers import CALL_COLUMNS, MAX_LINE_BYTES

pytestmark = pytest.mark.integration

UNTIL = datetime(2025, 6, 1, tzinfo=UTC)
NAME, EMAIL, PHONE = "Zebedeu Sigiloso", "zebedeu.sigilo@example.com", "+55 11 97777-1234"
SECRETS = (NAME, EMAIL, PHONE)
HEADER = ",".join(CALL_COLUMNS)


def call(n: int, *, name: str = NAME, called_at: str = "2025-03-01 10:00:00",
         duration: str = "60", satisfaction: str = "4", reason: str = "billing") -> str:
    return (f"CL{n},{called_at},CC{n},{name},{PHONE},{EMAIL},{reason},{duration},"
            f"{satisfaction},false,resolved,AG001")


def event(n: int, **fields) -> str:
    base = {"event_id": f"E{n}", "event_type": "registration",
            "occurred_at": "2025-03-01T10:00:00Z", "account_id": f"W{n}", "session_id": "S1",
            "email": EMAIL, "first_name": NAME}
    return json.dumps({**base, **fields}, ensure_ascii=False)


def event_with(n: int, json_text: str) -> str:
    """An event whose last member is given as JSON text (what json.dumps cannot write)."""
    return event(n)[:-1] + ", " + json_text + "}"


@dataclass(frozen=True)
class Case:
    name: str
    source: str  # callcenter | web
    # a bad line between two good ones (text or bytes), or the whole file (bytes, whole=True)
    content: str | bytes
    outcome: str  # quarantined | loaded | refused
    field: str | None = None
    reason: str = ""  # the start of the quarantine reason, or of the refusal message
    whole: bool = False
    line: int | None = None  # of the bad line (quarantined), else the middle line


def Q(name, source, content, field, reason, **kw) -> Case:  # noqa: N802 (a table)
    return Case(name, source, content, "quarantined", field, reason, **kw)


def L(name, source, content, **kw) -> Case:  # noqa: N802
    return Case(name, source, content, "loaded", **kw)


def R(name, source, content, reason) -> Case:  # noqa: N802
    return Case(name, source, content, "refused", reason=reason, whole=True)


GOOD_CALLS = f"{HEADER}\n{call(1)}\n{call(2)}\n".encode()
CASES = [
    # --- call-center CSV -------------------------------------------------------------------
    L("quoted line break in a field", "callcenter", call(5, reason='"billing\nand refund"')),
    L("quoted CRLF line break in a field", "callcenter",
      call(5, reason='"billing\r\nand refund"')),
    L("Windows (CRLF) line endings", "callcenter",
      f"{HEADER}\r\n{call(1)}\r\n{call(5)}\r\n{call(2)}\r\n".encode(), whole=True),
    L("byte order mark before the header", "callcenter",
      b"\xef\xbb\xbf" + f"{HEADER}\n{call(1)}\n{call(5)}\n{call(2)}\n".encode(), whole=True),
    L("e-mail made of digits (CSV: text like any other)", "callcenter",
      call(5).replace(EMAIL, "5511977771234")),
    Q("NUL byte in a field", "callcenter", call(5, name="Zebedeu\x00Sigiloso"), "caller_name",
      "a NUL byte (0x00) at position 35 in caller_name, which no text column can hold"),
    Q("integer above the integer range", "callcenter", call(5, duration="99999999999"),
      "duration_seconds",
      "duration_seconds 99999999999 is outside the integer range -2147483648..2147483647"),
    Q("integer below the integer range", "callcenter", call(5, satisfaction="-99999999999"),
      "satisfaction",
      "satisfaction -99999999999 is outside the integer range -2147483648..2147483647"),
    Q("impossible date", "callcenter", call(5, called_at="2025-02-30 10:00:00"), "called_at",
      "called_at '2025-02-30 10:00:00' is not a real date and time (day is out of range"),
    Q("impossible time", "callcenter", call(5, called_at="2025-03-01 24:00:00"), "called_at",
      "called_at '2025-03-01 24:00:00' is not a real date and time (hour must be in 0..23)"),
    Q("date in another format", "callcenter", call(5, called_at="01/03/2025 10:00"),
      "called_at", "unparsable date '01/03/2025 10:00', expected YYYY-MM-DD HH:MM:SS"),
    Q("10 MB field", "callcenter", call(5, name="x" * 10_000_000), None,
      f"line is 10000{len(call(5, name='')):03d} bytes, over the {MAX_LINE_BYTES} limit"),
    Q("not UTF-8 (cp1252)", "callcenter", call(5, name="Zebedeu Sigilosó").encode("cp1252"),
      None, "not valid UTF-8 (byte 0xf3 at position"),
    Q("unbalanced quote", "callcenter", call(5, name='"Zebedeu Sigiloso'), None,
      "malformed CSV: unbalanced quote"),
    Q("a field too many", "callcenter", call(5) + ",extra", None,
      "malformed CSV: expected 12 fields, found 13"),
    Q("empty call_id", "callcenter", call(5).replace("CL5,", ",", 1), "call_id",
      "call_id is empty"),
    Q("call_id repeated in the file", "callcenter", call(1), "call_id",
      "duplicate call_id CL1 in the same file"),
    Q("satisfaction outside 1-5", "callcenter", call(5, satisfaction="9"), "satisfaction",
      "satisfaction 9 outside 1-5"),
    R("empty file", "callcenter", b"", "empty file: no header row"),
    R("only a byte order mark", "callcenter", b"\xef\xbb\xbf", "empty file: no header row"),
    R("header drifted", "callcenter",
      f"{HEADER.replace(',agent_id', '')}\n{call(1)}\n".encode(),
      "header does not match the call-center contract; missing columns: agent_id"),
    R("header not UTF-8", "callcenter", "chamadaçã\n".encode("cp1252"),
      "header row is unreadable: not valid UTF-8"),
    R("the same bytes again under another day's name (re-delivery)", "callcenter", GOOD_CALLS,
      "same bytes as callcenter/calls_2025-05-30.csv, already loaded: a duplicate delivery"),
    # --- web NDJSON ------------------------------------------------------------------------
    Q("nested JSON object as a name", "web", event(5, first_name={"given": NAME}),
      "first_name", "first_name must be a JSON string or null, found an object"),
    Q("session id as an object", "web", event(5, session_id={"id": "S1"}), "session_id",
      "session_id must be a JSON string or null, found an object"),
    Q("e-mail as a number", "web", event(5, email=5511977771234), "email",
      "email must be a JSON string or null, found a number"),
    Q("phone as a number", "web", event(5, phone=5511977771234), "phone",
      "phone must be a JSON string or null, found a number (a number loses leading zeros"),
    Q("invalid birth date", "web", event(5, birth_date="1990-02-30"), "birth_date",
      "birth_date is not a date as YYYY-MM-DD (a string); staging would drop it"),
    Q("event_id as a number", "web", event(5, event_id=12345), "event_id",
      "event_id must be a JSON string, found a number"),
    Q("account_id as a number", "web", event(5, account_id=99999999999), "account_id",
      "account_id must be a JSON string or null, found a number"),
    Q("missing event_id", "web", event(5, event_id=None), "event_id",
      "event_id is missing or empty"),
    Q("impossible occurred_at", "web", event(5, occurred_at="2025-02-30T10:00:00Z"),
      "occurred_at", "occurred_at '2025-02-30T10:00:00Z' is not a real date and time"),
    Q("occurred_at without UTC offset", "web", event(5, occurred_at="2025-03-01T10:00:00"),
      "occurred_at", "timestamp '2025-03-01T10:00:00' has no UTC offset"),
    Q("JSON escape \\u0000 in a value", "web", event_with(5, '"last_name": "Sig\\u0000iloso"'),
      "last_name", "last_name: the escape \\u0000 (NUL), which no text can hold"),
    Q("JSON escape \\u0000 in a key", "web", event_with(5, '"no\\u0000te": 1'),
      "no\\u0000te", "no\\u0000te: the escape \\u0000 (NUL), which no text can hold"),
    Q("NUL byte in the line", "web", event(5).replace("Sigiloso", "Sig\x00iloso"), None,
      "a NUL byte (0x00) at position"),
    Q("NaN", "web", event_with(5, '"score": NaN'), "score",
      "score: NaN is not a JSON number; send null or a number"),
    Q("Infinity nested", "web", event_with(5, '"scores": {"a": [1, -Infinity]}'), "scores",
      "scores.a[1]: -Infinity is not a JSON number"),
    Q("lone surrogate", "web", event_with(5, '"city": "\\udc00"'), "city",
      "city: a lone UTF-16 surrogate escape (\\ud800-\\udfff), not a character"),
    Q("number past what JSON numbers hold (exponent)", "web", event_with(5, '"score": 1e99999'),
      None, "not JSON PostgreSQL can store: the number 1e99999 is too large"),
    Q("integer of 5,000 digits", "web", event_with(5, '"score": 1' + "0" * 5000), None,
      "not JSON PostgreSQL can store: Exceeds the limit (4300 digits)"),
    L("integer above the integer range in the payload (jsonb holds it)", "web",
      event_with(5, '"score": 99999999999999999999')),
    Q("truncated JSON", "web", event(5)[:40], None, "not JSON: "),
    Q("JSON but not an object", "web", "[1, 2]", None, "expected a JSON object, found list"),
    Q("unknown event_type", "web", event(5, event_type="purchase"), "event_type",
      "unknown event_type 'purchase'"),
    Q("10 MB line", "web", event(5, note="x" * 10_000_000), None,
      "line is 10000"),
    Q("not UTF-8", "web", event(5).replace("Sigiloso", "Sigilosó").encode("cp1252"), None,
      "not valid UTF-8 (byte 0xf3 at position"),
    Q("event_id repeated in the file", "web", event(1), "event_id",
      "duplicate event_id E1 in the same file"),
    L("byte order mark before the first event", "web",
      b"\xef\xbb\xbf" + f"{event(1)}\n{event(5)}\n{event(2)}\n".encode(), whole=True),
    L("Windows (CRLF) line endings", "web",
      f"{event(1)}\r\n{event(5)}\r\n{event(2)}\r\n".encode(), whole=True),
    R("empty file", "web", b"", "empty file: no events; nothing is lost, but if the day had"
      " events the export failed: have the file delivered again"),
    R("only blank lines", "web", b"\n\r\n", "empty file: no events"),
    R("only a byte order mark", "web", b"\xef\xbb\xbf\n", "empty file: no events"),
]


def _file_of(case: Case) -> bytes:
    if case.whole:
        return case.content if isinstance(case.content, bytes) else case.content.encode()
    bad = case.content if isinstance(case.content, bytes) else case.content.encode()
    if case.source == "callcenter":
        return HEADER.encode() + b"\n" + call(1).encode() + b"\n" + bad + b"\n" + \
            call(2).encode() + b"\n"
    return event(1).encode() + b"\n" + bad + b"\n" + event(2).encode() + b"\n"


def _landing(tmp_path: Path) -> dict[str, Case]:
    """One file a case, a day each (the duplicate delivery repeats the file before it)."""
    files: dict[str, Case] = {}
    day = {"callcenter": date(2025, 1, 1), "web": date(2025, 1, 1)}
    for case in CASES:
        folder = tmp_path / case.source
        folder.mkdir(exist_ok=True)
        if case.outcome == "refused" and case.content == GOOD_CALLS:
            original = folder / "calls_2025-05-30.csv"
            original.write_bytes(GOOD_CALLS)
            name = "calls_2025-05-31.csv"
        else:
            name = (f"calls_{day[case.source]}.csv" if case.source == "callcenter"
                    else f"events_{day[case.source]}.ndjson")
            day[case.source] += timedelta(days=1)
        (folder / name).write_bytes(_file_of(case))
        files[f"{case.source}/{name}"] = case
    return files


def _expected_line(case: Case) -> int:
    return case.line or (3 if case.source == "callcenter" else 2)


def test_every_bad_input_gets_its_outcome_where_it_is_and_no_value_reaches_the_log(
        clean_raw, tmp_path, caplog):
    files = _landing(tmp_path)
    with caplog.at_level(logging.DEBUG):
        for source in ("callcenter", "web"):
            pipeline.ingest(source, warehouse=clean_raw, until=UNTIL, landing=tmp_path)
    with psycopg.connect(clean_raw) as conn:
        ledger = {ref: rest for ref, *rest in conn.execute(
            "select source_ref, status, rows_read, rows_loaded, rows_quarantined, message"
            " from raw.load_batches")}
        quarantine = conn.execute(
            "select source_file, line_number, field, reason from raw.quarantine"
            " order by source_file, line_number").fetchall()
        loaded_lines = conn.execute(
            "select _source_file, array_agg(_line_number order by _line_number) from"
            " (select _source_file, _line_number from raw.callcenter_calls union all"
            "  select _source_file, _line_number from raw.web_events) r group by 1").fetchall()
    loaded_lines = dict(loaded_lines)
    quarantined = {}
    for source_file, line, field_name, reason in quarantine:
        quarantined.setdefault(source_file, []).append((line, field_name, reason))

    wrong = []  # every case that did not get its outcome, not just the first
    for source_file, case in files.items():
        status, read, loaded, held, message = ledger[source_file]
        got: object = (status, read, loaded, held, message)
        if case.outcome == "refused":
            ok = status == "refused" and message.startswith(case.reason) and loaded == 0 \
                and held == read  # every line kept for a fix
        elif case.outcome == "loaded":
            ok = (status, read, loaded, held) == ("loaded", 3, 3, 0) \
                and source_file not in quarantined
        else:
            got = (status, read, loaded, held, quarantined.get(source_file),
                   loaded_lines.get(source_file))
            rows = quarantined.get(source_file, [])
            # the good lines around it are loaded, under their own line numbers
            ok = (status, read, loaded, held) == ("loaded", 3, 2, 1) and len(rows) == 1 \
                and rows[0][:2] == (_expected_line(case), case.field) \
                and rows[0][2].startswith(case.reason) \
                and loaded_lines.get(source_file) == ([2, 4] if case.source == "callcenter"
                                                      else [1, 3])
        if not ok:
            wrong.append((case.name, source_file, got))
    assert wrong == []

    reasons = " ".join(r for *_, r in quarantine) + " ".join(
        str(m) for *_, m in ledger.values())
    for secret in SECRETS:
        assert secret not in caplog.text
        assert secret not in reasons
    assert "Traceback" not in caplog.text


def test_a_redelivered_file_is_skipped_when_unchanged_and_replaces_its_batch_when_changed(
        clean_raw, tmp_path, caplog):
    folder = tmp_path / "callcenter"
    folder.mkdir()
    path = folder / "calls_2025-03-01.csv"
    path.write_bytes(GOOD_CALLS)
    first = pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=tmp_path)
    again = pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=tmp_path)
    assert [b.status for b in again.batches] == ["skipped"]
    path.write_bytes(GOOD_CALLS + f"{call(3)}\nCL4,x\n".encode())
    with caplog.at_level(logging.DEBUG):
        changed = pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL,
                                  landing=tmp_path)
    [batch] = changed.batches
    assert (batch.status, batch.batch_id) == ("loaded", first.batches[0].batch_id)
    assert (batch.rows_read, batch.rows_loaded, batch.rows_quarantined) == (4, 3, 1)
    with psycopg.connect(clean_raw) as conn:
        assert conn.execute("select count(*) from raw.callcenter_calls").fetchone() == (3,)
        assert conn.execute("select line_number, field, reason from raw.quarantine"
                            ).fetchall() == [(5, None, "malformed CSV: expected 12 fields,"
                                                       " found 2")]
    assert all(secret not in caplog.text for secret in SECRETS)
