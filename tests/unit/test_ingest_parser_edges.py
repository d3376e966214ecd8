"""The edges of the file parsers that mutation testing found untested: Windows line endings,
the line-length limit exactly, and the line numbers of quarantined rows."""

from __future__ import annotations

import json

from onetoone.stages.ingest.parsers import (
    CALL_COLUMNS,
    MAX_LINE_BYTES,
    parse_calls_csv,
    parse_web_ndjson,
)

HEADER = ",".join(CALL_COLUMNS)
GOOD_CALL = ("CL1,2025-03-01 10:00:00,CC1,José Pérez García,(11) 98765-4321,,billing,"
             "120,4,false,resolved,AG001")


def test_windows_line_endings_parse_as_unix_ones():
    unix = list(parse_calls_csv(f"{HEADER}\n{GOOD_CALL}\n".encode()))
    windows = list(parse_calls_csv(f"{HEADER}\r\n{GOOD_CALL}\r\n".encode()))
    assert windows == unix and windows[0].problem is None
    assert windows[0].row[-1] == "AG001"  # not "AG001\r"
    # csv and json forgive a trailing "\r"; the quarantine keeps the line as delivered, without it
    bad = GOOD_CALL.replace(",4,", ",9,")
    [quarantined] = list(parse_calls_csv(f"{HEADER}\r\n{bad}\r\n".encode()))
    assert quarantined.problem.raw_record == bad


def _event_line(size: int) -> bytes:
    """A valid page-view event padded to exactly ``size`` bytes."""
    event = {"event_id": "E1", "event_type": "page_view", "occurred_at": "2025-03-01T10:00:00Z",
             "account_id": None, "session_id": "S1", "payload": {"page_category": "shoes"},
             "pad": ""}
    base = len(json.dumps(event).encode())
    event["pad"] = "x" * (size - base)
    line = json.dumps(event).encode()
    assert len(line) == size
    return line


def test_a_line_of_exactly_the_limit_is_read_and_one_byte_more_is_quarantined():
    [at_limit] = list(parse_web_ndjson(_event_line(MAX_LINE_BYTES) + b"\n"))
    assert not (at_limit.problem and "limit" in at_limit.problem.reason)
    [over] = list(parse_web_ndjson(b'{"x": 1}\n' + _event_line(MAX_LINE_BYTES + 1) + b"\n"))[1:]
    assert over.line_number == 2 and over.problem is not None
    assert over.problem.reason == (
        f"line is {MAX_LINE_BYTES + 1} bytes, over the {MAX_LINE_BYTES} limit")
    assert over.problem.line_number == 2 and not over.problem.exact


def test_an_over_long_line_with_undecodable_bytes_is_kept_escaped():
    line = b"\xff" + b"a" * MAX_LINE_BYTES
    [over] = list(parse_web_ndjson(line + b"\n"))
    assert over.problem is not None
    assert over.problem.raw_record == "\\xff" + "a" * 1999 + "..."


def test_a_quarantined_call_keeps_its_line_number():
    bad = GOOD_CALL.replace(",4,", ",9,")  # satisfaction out of range
    [good, quarantined] = list(parse_calls_csv(f"{HEADER}\n{GOOD_CALL}\n{bad}\n".encode()))
    assert good.problem is None and good.line_number == 2
    assert quarantined.line_number == 3 and quarantined.problem.line_number == 3


def _call(call_id: str, caller_name: str) -> str:
    """A good call line whose caller name is ``caller_name`` (quoted as given)."""
    return GOOD_CALL.replace("CL1", call_id).replace("José Pérez García", caller_name)


def test_a_quoted_line_break_after_escaped_quotes_joins_one_record():
    # the first physical line holds three quotes (an odd count other than one)
    name = '"José ""Pepe\nPérez"""'
    [call, after] = list(parse_calls_csv(
        f"{HEADER}\n{_call('CL1', name)}\n{_call('CL2', 'Ana')}\n".encode()))
    assert call.problem is None and call.line_number == 2
    assert call.row[CALL_COLUMNS.index("caller_name")] == 'José "Pepe\nPérez"'
    assert after.problem is None and after.line_number == 4


def test_a_record_joined_to_exactly_the_limit_is_read():
    first = 'CL1,2025-03-01 10:00:00,CC1,"José'
    rest = ('Pérez",(11) 98765-4321,,billing,120,4,false,resolved,AG001')
    pad = MAX_LINE_BYTES - len((first + "\n" + rest).encode())
    first = first + "x" * pad
    assert len((first + "\n" + rest).encode()) == MAX_LINE_BYTES
    [call] = list(parse_calls_csv(f"{HEADER}\n{first}\n{rest}\n".encode()))
    assert call.problem is None
    assert call.row[CALL_COLUMNS.index("caller_name")] == "José" + "x" * pad + "\nPérez"


def test_an_open_quote_longer_than_the_limit_stands_alone_and_the_lines_after_it_are_read():
    stray = 'CL1,2025-03-01 10:00:00,CC1,"José' + "x" * MAX_LINE_BYTES
    lines = [stray, _call("CL2", "Ana"), _call("CL3", "Bia")]
    parsed = list(parse_calls_csv(("\n".join([HEADER, *lines]) + "\n").encode()))
    assert [p.line_number for p in parsed] == [2, 3, 4]
    assert parsed[0].problem is not None
    assert [p.problem for p in parsed[1:]] == [None, None]


def test_an_undecodable_call_names_its_line_and_a_nul_names_its_first_position():
    latin1 = GOOD_CALL.encode("cp1252")
    nul = GOOD_CALL.replace("Pérez", "P\x00r\x00z")
    [good, undecodable, with_nul] = list(parse_calls_csv(
        f"{HEADER}\n{GOOD_CALL}\n".encode() + latin1 + f"\n{nul}\n".encode()))
    assert undecodable.line_number == 3 and undecodable.problem.line_number == 3
    assert "re-export the file as UTF-8 (it looks like Latin-1/cp1252)" in \
        undecodable.problem.reason
    position = nul.index("\x00")
    assert f"a NUL byte (0x00) at position {position}" in with_nul.problem.reason
