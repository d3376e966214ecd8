"""Row-level validation of the file extracts: every line is either a typed row or quarantined with
the field and a reason; nothing is dropped."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal

import pytest

from onetoone.stages.ingest.parsers import (
    CALL_COLUMNS,
    INTEGER_MAX,
    FileRefused,
    parse_calls_csv,
    parse_web_ndjson,
)

HEADER = ",".join(CALL_COLUMNS)
GOOD_CALL = ("CL1,2025-03-01 10:00:00,CC1,José Pérez García,(11) 98765-4321,,billing,"
             "120,4,false,resolved,AG001")


def calls(*lines: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return ("\n".join([header, *lines]) + "\n").encode(encoding)


def test_good_call_is_typed():
    [line] = list(parse_calls_csv(calls(GOOD_CALL)))
    assert line.problem is None
    call_id, called_at, contact_id, name, *_rest = line.row
    assert (call_id, contact_id, name) == ("CL1", "CC1", "José Pérez García")
    assert called_at.year == 2025
    assert line.row[7] == 120 and line.row[8] == 4 and line.row[9] is False


@pytest.mark.parametrize(
    ("bad_line", "field", "reason"),
    [
        ('CL2,2025-03-01 10:00:00,CC1,"José,(11) 1,,billing,1,4,false,resolved,AG1', None,
         "unbalanced quote"),
        ("CL2,2025-03-01 10:00:00,CC1,José", None, "expected 12 fields, found 4"),
        ("CL2,01/03/2025,CC1,José,1,,billing,1,4,false,resolved,AG1", "called_at", "unparsable"),
        ("CL2,2025-03-01 10:00:00,CC1,José,1,,billing,-5,4,false,resolved,AG1",
         "duration_seconds", "negative"),
        ("CL2,2025-03-01 10:00:00,CC1,José,1,,billing,5,7,false,resolved,AG1", "satisfaction",
         "outside 1-5"),
        ("CL2,2025-03-01 10:00:00,CC1,José,1,,billing,5,3,maybe,resolved,AG1", "is_complaint",
         "true or false"),
        (",2025-03-01 10:00:00,CC1,José,1,,billing,5,3,true,resolved,AG1", "call_id", "empty"),
        ("", None, "empty line"),
    ],
)
def test_bad_call_rows_are_quarantined_with_field_and_reason(bad_line, field, reason):
    parsed = list(parse_calls_csv(calls(GOOD_CALL, bad_line)))
    assert [p.problem is None for p in parsed] == [True, False]
    problem = parsed[1].problem
    assert problem.field == field
    assert reason in problem.reason
    assert problem.line_number == 3
    assert problem.raw_record == bad_line


def test_duplicate_call_id_in_one_file_is_quarantined():
    parsed = list(parse_calls_csv(calls(GOOD_CALL, GOOD_CALL)))
    assert "duplicate call_id CL1" in parsed[1].problem.reason


def test_cp1252_line_is_quarantined_with_recoverable_bytes():
    data = calls(GOOD_CALL, encoding="cp1252")
    [line] = list(parse_calls_csv(data))
    assert "not valid UTF-8" in line.problem.reason
    assert "\\xe9" in line.problem.raw_record  # the é of José, kept as an escape


def test_one_unbalanced_quote_does_not_swallow_the_next_lines():
    broken = 'CL2,2025-03-01 10:00:00,CC1,"José,1,,billing,1,4,false,resolved,AG1'
    good = GOOD_CALL.replace("CL1", "CL3")
    parsed = list(parse_calls_csv(calls(broken, good)))
    assert parsed[0].problem and parsed[1].row[0] == "CL3"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (HEADER.replace(",agent_id", ""), "missing columns: agent_id"),
        (HEADER + ",loyalty_tier", "unexpected columns: loyalty_tier"),
    ],
)
def test_header_drift_refuses_the_file(header, message):
    with pytest.raises(FileRefused, match=message):
        list(parse_calls_csv(calls(header=header)))


def test_empty_file_is_refused():
    with pytest.raises(FileRefused, match="empty file"):
        list(parse_calls_csv(b""))


def test_header_only_file_has_no_rows():
    assert list(parse_calls_csv(calls())) == []


def event(**fields) -> str:
    base = {"event_id": "E1", "event_type": "login", "occurred_at": "2025-03-01T10:00:00-03:00",
            "account_id": "W1", "session_id": "S1"}
    base.update(fields)
    return json.dumps({k: v for k, v in base.items() if v is not ...}, ensure_ascii=False)


def test_good_event_keeps_the_whole_object_as_payload():
    text = event(event_type="registration", first_name="João")
    [line] = list(parse_web_ndjson((text + "\n").encode()))
    assert line.row[0:2] == ("E1", "registration")
    assert line.row[2].utcoffset().total_seconds() == -3 * 3600
    assert json.loads(line.row[5])["first_name"] == "João"


def events(*lines: str) -> list:
    """Parse lines between two good events; the good ones must come through untouched."""
    before, after = event(event_id="E0"), event(event_id="E9")
    data = "\n".join([before, *lines, after]).encode() + b"\n"
    parsed = list(parse_web_ndjson(data))
    assert parsed[0].row[0] == "E0" and parsed[-1].row[0] == "E9", "a good event was lost"
    return parsed[1:-1]


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ('{"event_id": "E2", "event_type": "login"', None,
         "not JSON: Expecting ',' delimiter at column 41"),
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", None,
         "not JSON: Expecting value at column 1"),
        ("[1, 2]", None, "expected a JSON object, found list"),
        (event(event_id=...), "event_id", "event_id is missing or empty"),
        (event(occurred_at="yesterday"), "occurred_at",
         "unparsable timestamp 'yesterday', expected ISO 8601"),
        (event(occurred_at="2025-03-01T10:00:00"), "occurred_at", "has no UTC offset"),
        (event(event_type="teleport"), "event_type", "unknown event_type 'teleport'"),
        (event(account_id=None), "account_id", "login event without account_id"),
    ],
)
def test_bad_events_are_quarantined(text, field, reason):
    [line] = events(text)
    assert line.problem.field == field
    assert reason in line.problem.reason
    assert line.problem.line_number == 2 and line.problem.raw_record == text


def test_duplicate_event_id_in_one_file_is_quarantined():
    first, repeat = events(event(event_id="E5"), event(event_id="E5", event_type="logout"))
    assert first.row[0] == "E5"
    assert repeat.problem.field == "event_id"
    assert repeat.problem.reason == "duplicate event_id E5 in the same file"


def test_event_line_in_another_encoding_is_quarantined_with_recoverable_bytes():
    latin = event(event_type="registration", first_name="Zoé").encode("cp1252")
    data = b"\n".join([event(event_id="E0").encode(), latin, event(event_id="E9").encode()])
    good, bad, also_good = parse_web_ndjson(data + b"\n")
    assert (good.row[0], also_good.row[0]) == ("E0", "E9")
    assert bad.problem.reason.startswith("not valid UTF-8 (byte 0xe9 at position")
    assert "re-export the file as UTF-8" in bad.problem.reason
    assert "Zo\\xe9" in bad.problem.raw_record and bad.problem.exact is False


def test_anonymous_page_view_is_accepted():
    anonymous = event(event_type="page_view", account_id=None)
    [line] = list(parse_web_ndjson((anonymous + "\n").encode()))
    assert line.problem is None and line.row[3] is None


def test_huge_line_is_quarantined_not_loaded():
    [line] = events(event(url="x" * 100_000))
    assert line.problem.reason.startswith("line is 100") and "over the 65536 limit" in \
        line.problem.reason
    assert line.problem.exact is False  # only the start of it is kept


def test_huge_call_field_is_quarantined_and_the_next_call_kept():
    huge = GOOD_CALL.replace("José Pérez García", "J" * 70_000).replace("CL1", "CL2")
    good, bad, after = parse_calls_csv(calls(GOOD_CALL, huge, GOOD_CALL.replace("CL1", "CL3")))
    assert (good.row[0], after.row[0]) == ("CL1", "CL3")
    assert "over the 65536 limit" in bad.problem.reason and bad.problem.line_number == 3


def test_call_file_cut_mid_row_keeps_every_complete_row():
    data = calls(GOOD_CALL, GOOD_CALL.replace("CL1", "CL2"))
    truncated = data + b"CL3,2025-03-01 10:0"  # the transfer stopped here, no final newline
    *complete, cut = parse_calls_csv(truncated)
    assert [line.row[0] for line in complete] == ["CL1", "CL2"]
    assert cut.problem.reason == "malformed CSV: expected 12 fields, found 2"
    assert cut.problem.line_number == 4 and cut.problem.raw_record == "CL3,2025-03-01 10:0"


# --- values PostgreSQL cannot store, and values that would load wrong ------------------------


@pytest.mark.parametrize(
    ("bad_line", "field", "reason"),
    [
        (GOOD_CALL.replace("CL1", "CL2").replace("AG001", "AG\x00001"), "agent_id",
         "a NUL byte (0x00) at position"),
        (GOOD_CALL.replace("CL1", "CL2").replace(",120,", ",99999999999,"), "duration_seconds",
         "duration_seconds 99999999999 is outside the integer range -2147483648..2147483647"),
        (GOOD_CALL.replace("CL1", "CL2").replace(",120,", ",1_000,"), "duration_seconds",
         "not an integer: '1_000'"),
        (GOOD_CALL.replace("CL1", "CL2").replace(",4,false", ",99999999999999999999,false"),
         "satisfaction", "satisfaction 99999999999999999999 is outside the integer range"),
    ],
)
def test_call_values_no_raw_column_can_hold_are_quarantined(bad_line, field, reason):
    after = GOOD_CALL.replace("CL1", "CL3")
    good, bad, also_good = parse_calls_csv(calls(GOOD_CALL, bad_line, after))
    assert (good.row[0], also_good.row[0]) == ("CL1", "CL3")
    assert bad.problem.field == field and bad.problem.line_number == 3
    assert reason in bad.problem.reason
    assert "\x00" not in bad.problem.raw_record  # the quarantine is a text column too


def test_a_line_neither_utf8_nor_nul_free_is_stored_escaped():
    line = GOOD_CALL.replace("CL1", "CL2").replace("José", "Jos\x00é").encode("cp1252")
    [_good, bad] = parse_calls_csv(calls(GOOD_CALL) + line + b"\n")
    assert bad.problem.reason.startswith("not valid UTF-8 (byte 0xe9")
    assert "\x00" not in bad.problem.raw_record and "Jos\\x00\\xe9" in bad.problem.raw_record


def test_a_nul_byte_in_an_event_line_is_quarantined_escaped():
    [line] = events(event(event_id="E2").replace("E2", "E\x002"))
    assert line.problem.reason.startswith("a NUL byte (0x00) at position")
    assert "\x00" not in line.problem.raw_record and line.problem.exact is False


def test_a_nul_byte_is_kept_visible_as_an_escape_for_whoever_fixes_the_row():
    line = GOOD_CALL.replace("CL1", "CL2").replace("AG001", "AG\x00001")
    [_good, bad] = parse_calls_csv(calls(GOOD_CALL, line))
    assert bad.problem.raw_record == line.replace("\x00", "\\x00")
    assert bad.problem.exact is False


def test_a_quoted_line_break_is_one_record():
    multi = GOOD_CALL.replace("CL1", "CL2").replace(",billing,", ',"billing\nthen refund",')
    after = GOOD_CALL.replace("CL1", "CL3")
    first, record, last = parse_calls_csv(calls(GOOD_CALL, multi, after))
    assert record.problem is None and record.row[6] == "billing\nthen refund"
    assert (record.line_number, last.line_number, last.row[0]) == (3, 5, "CL3")


def test_a_stray_quote_before_a_quoted_line_break_does_not_join_them():
    stray = 'CL2,2025-03-01 10:00:00,CC1,"José,1,,billing,1,4,false,resolved,AG1'
    multi = GOOD_CALL.replace("CL1", "CL3").replace(",billing,", ',"billing\nrefund",')
    stray_line, record = parse_calls_csv(calls(stray, multi))
    assert "unbalanced quote" in stray_line.problem.reason and stray_line.line_number == 2
    assert record.row[0] == "CL3" and record.line_number == 3


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        (event(first_name="Jo\u0000o"), "first_name", "the escape \\u0000 (NUL)"),
        ('{"event_id": "E2", "event_type": "login", "occurred_at": "2025-03-01T10:00:00Z",'
         ' "account_id": "W1", "prefs": {"theme": "\\ud800"}}', "prefs",
         "prefs.theme: a lone UTF-16 surrogate escape"),
        (event(score=float("nan")), "score", "score: NaN is not a JSON number"),
        (event(score=float("inf")), "score", "score: Infinity is not a JSON number"),
        ('{"event_id": "E2", "n": ' + "9" * 5000 + "}", None,
         "not JSON PostgreSQL can store: Exceeds the limit (4300 digits)"),
        ("[" * 10_000 + "]" * 10_000, None, "not JSON PostgreSQL can store"),
        (event(score=...).replace("}", ', "score": 1e200000}'), None,
         "not JSON PostgreSQL can store: the number 1e200000 is too large"),
        (event(score=...).replace("}", ', "score": 1e-20000}'), None,
         "not JSON PostgreSQL can store: the number 1e-20000 is too small"),
        (event(event_id=12), "event_id", "event_id must be a JSON string, found a number"),
        (event(first_name={"given": "Ana"}), "first_name",
         "first_name must be a JSON string or null, found an object"),
        (event(session_id={"id": 1}), "session_id",
         "session_id must be a JSON string or null, found an object"),
        (event(email=12345), "email", "email must be a JSON string or null, found a number"),
        (event(phone=5511987654321), "phone", "found a number (a number loses leading zeros"),
        (event(event_type="registration", birth_date="1990-02-30"), "birth_date",
         "birth_date is not a date as YYYY-MM-DD"),
        (event(event_type="registration", birth_date=19900101), "birth_date",
         "birth_date is not a date as YYYY-MM-DD (a number)"),
        (event(event_type="consent_change", granted="maybe"), "granted",
         "granted must be true or false, found a string"),
    ],
)
def test_event_values_jsonb_refuses_or_staging_would_misread_are_quarantined(text, field,
                                                                            reason):
    [line] = events(text)
    assert line.problem is not None, "loaded"
    assert line.problem.field == field
    assert reason in line.problem.reason
    assert line.problem.line_number == 2 and line.problem.raw_record == text


def test_quarantine_reasons_name_the_field_not_the_personal_value():
    [line] = events(event(email=12345))
    assert "12345" not in line.problem.reason
    [line] = events(event(event_type="registration", birth_date="1990-02-30"))
    assert "1990" not in line.problem.reason


def test_good_optional_fields_still_load():
    [line] = events(event(event_type="consent_change", granted=True, birth_date="1990-02-28",
                          phone="+55 11 98765-4321", note="a \\ backslash and \\\\u0000 text",
                          zero=0.0, tiny=1e-300))
    assert line.problem is None


def test_a_byte_order_mark_does_not_cost_the_first_event():
    data = "\ufeff".encode() + (event(event_id="E1") + "\n" + event(event_id="E2") + "\n").encode()
    first, second = parse_web_ndjson(data)
    assert (first.row[0], second.row[0]) == ("E1", "E2")


@pytest.mark.parametrize("data", [b"", b"\n", b"  \r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\r\n"])
def test_an_empty_web_file_is_refused(data):
    with pytest.raises(FileRefused, match="empty file"):
        list(parse_web_ndjson(data))


# --- ERP values against the raw columns they go to ---------------------------------------------


def erp_row_problem(*values):
    from onetoone.stages.ingest.erp import RawColumn, storable_check

    raw = {"quantity": RawColumn("integer"), "unit_price": RawColumn("numeric", 12, 2),
           "updated_at": RawColumn("timestamp with time zone")}
    row = list(values)
    return storable_check(("quantity", "unit_price", "updated_at"), raw)(row), row


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ((3_000_000_000, None, None),
         ("quantity", "quantity 3000000000 is outside the integer range -2147483648..2147483647")),
        ((Decimal("2.5"), None, None), ("quantity", "quantity 2.5 is not a whole number")),
        ((Decimal("NaN"), None, None), ("quantity", "quantity NaN is not a whole number")),
        ((1, Decimal("NaN"), None), ("unit_price", "unit_price NaN is not a finite number")),
        ((1, Decimal("-Infinity"), None),
         ("unit_price", "unit_price -Infinity is not a finite number")),
        ((1, Decimal("9999999999.995"), None),
         ("unit_price", "unit_price 9999999999.995 does not fit numeric(12, 2)")),
        ((1, None, "unreadable"), ("updated_at", "updated_at is not a timestamp with time zone"
                                   " the warehouse can hold (a finite value in years 1 to 9999)")),
    ],
)
def test_erp_values_their_raw_column_cannot_hold_are_named(values, problem):
    from onetoone.stages.ingest.erp import Unreadable

    values = tuple(Unreadable("infinity") if v == "unreadable" else v for v in values)
    assert erp_row_problem(*values)[0] == problem


def test_erp_whole_numbers_from_a_widened_column_load_as_integers():
    problem, row = erp_row_problem(Decimal("2.00"), Decimal("9999999999.994"), None)
    assert problem is None and row[0] == 2 and type(row[0]) is int


# The exact words a steward reads for each refused call line or event (field and reason), and
# the edges of what the parsers accept: the quarantine is read by people, so its reasons are
# part of the contract, not free text.

def call(**values: str) -> str:
    """GOOD_CALL as CL9 with some fields replaced."""
    fields = dict(zip(CALL_COLUMNS, GOOD_CALL.split(","), strict=True)) | {"call_id": "CL9"}
    return ",".join((fields | values)[column] for column in CALL_COLUMNS)


@pytest.mark.parametrize(("line", "field", "reason"), [
    ("", None, "empty line"),
    ('CL2,2025-03-01 10:00:00,CC1,"José,(11) 1,,billing,1,4,false,resolved,AG1', None,
     "malformed CSV: unbalanced quote"),
    (call(contact_id=""), "contact_id", "contact_id is empty"),
    (call(call_id=""), "call_id", "call_id is empty"),
    (call(satisfaction="0"), "satisfaction", "satisfaction 0 outside 1-5"),
    (call(satisfaction="6"), "satisfaction", "satisfaction 6 outside 1-5"),
    (call(duration_seconds=str(INTEGER_MAX + 1)), "duration_seconds",
     "duration_seconds 2147483648 is outside the integer range -2147483648..2147483647"),
    (call(caller_name="Jo\x00se"), "caller_name",
     "a NUL byte (0x00) at position 30 in caller_name, which no text column can hold;"
     " remove it at the source and re-export the file"),
])
def test_a_refused_call_line_gets_its_exact_field_and_reason(line, field, reason):
    [parsed] = parse_calls_csv(calls(line))
    assert (parsed.problem.field, parsed.problem.reason) == (field, reason)
    assert parsed.line_number == parsed.problem.line_number == 2


def test_a_repeated_call_id_is_quarantined_on_the_call_id_field():
    _, again = parse_calls_csv(calls(GOOD_CALL, GOOD_CALL))
    assert (again.problem.field, again.problem.reason) == (
        "call_id", "duplicate call_id CL1 in the same file")


@pytest.mark.parametrize(("values", "typed"), [
    ({"satisfaction": "1"}, {"satisfaction": 1}),
    ({"satisfaction": "5"}, {"satisfaction": 5}),
    ({"satisfaction": ""}, {"satisfaction": None}),  # not asked, or not given
    ({"duration_seconds": "0"}, {"duration_seconds": 0}),
    ({"duration_seconds": str(INTEGER_MAX)}, {"duration_seconds": INTEGER_MAX}),
    ({"is_complaint": "true", "email": "a@b.io", "phone": "", "resolution": "", "agent_id": ""},
     {"is_complaint": True, "email": "a@b.io", "phone": None, "resolution": None,
      "agent_id": None}),
    # the slow path for a time written without zero padding
    ({"called_at": "2025-3-1 9:05:07"}, {"called_at": datetime(2025, 3, 1, 9, 5, 7)}),
])
def test_call_values_at_the_edges_of_the_contract_load_typed(values, typed):
    line = call(**values)
    [parsed] = parse_calls_csv(calls(line))
    assert parsed.problem is None
    assert parsed.text == line and parsed.line_number == 2
    row = dict(zip(CALL_COLUMNS, parsed.row, strict=True))
    assert {column: row[column] for column in typed} == typed


def test_header_drift_names_every_missing_and_unexpected_column():
    drifted = HEADER.replace(",agent_id", "").replace(",reason", "") + ",loyalty_tier,channel"
    with pytest.raises(FileRefused) as refused:
        list(parse_calls_csv(calls(header=drifted)))
    assert str(refused.value) == (
        "header does not match the call-center contract; missing columns: reason, agent_id;"
        " unexpected columns: loyalty_tier, channel")
    with pytest.raises(FileRefused) as refused:
        list(parse_calls_csv(calls(header="\ufeff" + HEADER + ",channel")))
    assert str(refused.value) == ("header does not match the call-center contract;"
                                  " unexpected columns: channel")
    with pytest.raises(FileRefused) as refused:
        list(parse_calls_csv(calls(header=HEADER.replace(",agent_id", ""))))
    assert str(refused.value) == ("header does not match the call-center contract;"
                                  " missing columns: agent_id")
    assert list(parse_calls_csv(calls(header="\ufeff" + HEADER))) == []


LOGIN = event(event_type="login")
SURROGATE = ("a lone UTF-16 surrogate escape (\\ud800-\\udfff), not a character;"
             " the exporter must write valid UTF-8")


@pytest.mark.parametrize(("text", "field", "reason"), [
    (event(email=True), "email", "email must be a JSON string or null, found a boolean"),
    (event(email=[1]), "email", "email must be a JSON string or null, found an array"),
    (LOGIN.replace("}", ', "x": {"a": {"b": ["x", "\\ud800"]}}}'), "x", "x.a.b[1]: " + SURROGATE),
    (LOGIN.replace("}", ', "x": [["ok"], ["\\udfff"]]}'), "x", "x[1][0]: " + SURROGATE),
    # a key is named in the reason with its own lone surrogates escaped, both ends of the range
    (LOGIN.replace("}", ', "\\ud800": 1}'), "\\ud800", "\\ud800: " + SURROGATE),
    (LOGIN.replace("}", ', "x\\udfff": 1}'), "x\\udfff", "x\\udfff: " + SURROGATE),
    (LOGIN.replace("}", ', "x": {"\\ud7ff": "\\udfff"}}'), "x", "x.\ud7ff: " + SURROGATE),
    # a bad value before a nested one is still found
    (LOGIN.replace("}", ', "note": "\\udfff", "x": {"a": [1, {"b": 2}]}}'), "note",
     "note: " + SURROGATE),
    (LOGIN.replace("}", ', "score": 0.0000000000000000000000001e-400}'), None,
     "not JSON PostgreSQL can store: the number 0.000000000000000000... is too small"),
    (LOGIN.replace("}", ', "score": 1.0000000000000e-400}'), None,
     "not JSON PostgreSQL can store: the number 1.0000000000000e-400 is too small"),
    (LOGIN.replace("}", ', "score": 1.00000000000000e-400}'), None,
     "not JSON PostgreSQL can store: the number 1.00000000000000e-40... is too small"),
])
def test_a_refused_event_gets_its_exact_field_and_reason(text, field, reason):
    [line] = events(text)
    assert (line.problem.field, line.problem.reason) == (field, reason)


@pytest.mark.parametrize("number", ["0e-400", "0E-400", "0.0e-400"])
def test_a_zero_with_a_huge_exponent_is_zero_not_too_small(number):
    [line] = events(LOGIN.replace("}", f', "score": {number}}}'))
    assert line.problem is None


@pytest.mark.parametrize(("text", "field", "reason"), [
    ("", None, "empty line"),
    ("a\x00b", None, "a NUL byte (0x00) at position 1, which no text column can hold; remove it"
                     " at the source and re-export the file"),
    # the type only, never the value (an id, but the reason must not depend on what it is)
    (event(account_id=12), "account_id", "account_id must be a JSON string or null, found"
                                         " a number"),
    (event(email=1.5), "email", "email must be a JSON string or null, found a number"),
    (event(phone=123), "phone", "phone must be a JSON string or null, found a number"
                                " (a number loses leading zeros and the +)"),
])
def test_a_refused_event_line_is_named_by_its_line_field_and_exact_reason(text, field, reason):
    [line] = events(text)
    assert (line.problem.field, line.problem.reason) == (field, reason)
    assert line.line_number == line.problem.line_number == 2


@pytest.mark.parametrize("granted", ["TRUE", "False", "true"])
def test_consent_is_granted_as_true_or_false_in_any_case(granted):
    [line] = events(event(event_type="consent_change", granted=granted))
    assert line.problem is None


def test_a_loaded_event_keeps_its_line_text_and_session():
    text = event(event_type="login")
    [line] = events(text)
    assert line.problem is None and line.line_number == 2 and line.text == text
    assert line.row[4] == "S1"


def test_an_empty_web_file_is_refused_with_what_to_do():
    with pytest.raises(FileRefused) as refused:
        list(parse_web_ndjson(b""))
    assert str(refused.value) == (
        "empty file: no events; nothing is lost, but if the day had events the export failed:"
        " have the file delivered again")


@pytest.mark.parametrize(("line", "field", "reason"), [
    # balanced quotes but not CSV: the strict reader's own words
    ('CL2,2025-03-01 10:00:00,CC1,"a"b,1,,billing,1,4,false,resolved,AG1', None,
     "malformed CSV: ',' expected after '\"'"),
    # the smallest integer is an integer, so its reason is the sign, not the range
    ("CL2,2025-03-01 10:00:00,CC1,José,1,,billing,-2147483648,4,false,resolved,AG1",
     "duration_seconds", "negative duration -2147483648"),
])
def test_call_lines_refused_for_their_own_reason(line, field, reason):
    [parsed] = parse_calls_csv(calls(line))
    assert (parsed.problem.field, parsed.problem.reason) == (field, reason)


def test_a_field_quoted_over_three_lines_is_one_call():
    [parsed] = parse_calls_csv(calls(
        'CL2,2025-03-01 10:00:00,CC1,"a\nb\nc",1,,billing,1,4,false,resolved,AG1'))
    assert parsed.problem is None and parsed.row[3] == "a\nb\nc"


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n"])
def test_an_empty_call_file_is_refused_as_empty_even_with_a_byte_order_mark(data):
    with pytest.raises(FileRefused, match="^empty file: no header row$"):
        list(parse_calls_csv(data))


@pytest.mark.parametrize(("called_at", "reason"), [
    ("2025-02-30 10:00:00", "called_at '2025-02-30 10:00:00' is not a real date and time"
                            " (day is out of range for month)"),
    ("2025-03-01 25:00:00", "called_at '2025-03-01 25:00:00' is not a real date and time"
                            " (hour must be in 0..23)"),
    ("01/03/2025 10:00:00", "unparsable date '01/03/2025 10:00:00', expected YYYY-MM-DD"
                            " HH:MM:SS"),
])
def test_an_impossible_call_time_is_told_apart_from_a_wrong_format(called_at, reason):
    line = f"CL2,{called_at},CC1,José,1,,billing,1,4,false,resolved,AG1"
    [parsed] = list(parse_calls_csv(calls(line)))
    assert (parsed.problem.field, parsed.problem.reason) == ("called_at", reason)


@pytest.mark.parametrize(("occurred_at", "reason"), [
    ("2025-02-30T10:00:00Z", "occurred_at '2025-02-30T10:00:00Z' is not a real date and time"
                             " (day is out of range for month)"),
    ("yesterday", "unparsable timestamp 'yesterday', expected ISO 8601"),
    ({"at": "2025-03-01"}, "unparsable timestamp (an object), expected ISO 8601"),
])
def test_an_impossible_event_time_is_told_apart_from_a_wrong_format(occurred_at, reason):
    [line] = events(event(occurred_at=occurred_at))
    assert (line.problem.field, line.problem.reason) == ("occurred_at", reason)


def test_a_key_holding_nul_or_a_lone_surrogate_is_named_by_its_escape():
    """field and reason are stored as text: a key's NUL or surrogate would not store."""
    [nul, surrogate] = events(LOGIN.replace("}", ', "a\\u0000b": 1}'),
                              LOGIN.replace("}", ', "c\\udc00": 1}'))
    assert (nul.problem.field, nul.problem.reason) == (
        "a\\u0000b", "a\\u0000b: the escape \\u0000 (NUL), which no text can hold")
    assert surrogate.problem.field == "c\\udc00"
    assert surrogate.problem.reason.startswith("c\\udc00: a lone UTF-16 surrogate escape")
