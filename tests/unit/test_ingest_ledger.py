"""What the ledger decides per quarantined row without a database: the row's identity in its
batch (so a rerun keeps its quarantine id), and PostgreSQL's refusal reason without the value."""

from __future__ import annotations

from types import SimpleNamespace

from onetoone.stages.ingest.ledger import QuarantinedRow, _refusal, record_keys


def _row(line: int | None, key: str | None = None) -> QuarantinedRow:
    return QuarantinedRow(line_number=line, field=None, reason="r", raw_record="x", record_key=key)


def test_a_rows_identity_is_its_key_else_its_line_and_repeats_are_numbered():
    rows = [_row(7), _row(None, "C1"), _row(9, "C1"), _row(None), _row(None), _row(7), _row(0)]
    assert record_keys(rows) == ["line 7", "C1", "C1 #2", "record", "record #2", "line 7 #2",
                                 "line 0"]


def _error(context: str | None, message: str | None, sqlstate: str | None = "22008"):
    # The two diagnostics psycopg reports for a refused COPY row; values only, no connection.
    return SimpleNamespace(diag=SimpleNamespace(context=context, message_primary=message),
                           sqlstate=sqlstate)


def test_a_refused_row_names_its_column_and_reason_but_never_the_value():
    err = _error('COPY erp_customers, line 3, column birth_date: "1990-13-01"',
                 'date/time field value out of range: "1990-13-01"')
    column, reason = _refusal(err)
    assert column == "birth_date"
    assert reason == ("PostgreSQL refused the row: date/time field value out of range"
                      " (SQLSTATE 22008)")
    assert "1990" not in reason


def test_a_refusal_without_diagnostics_still_has_a_reason():
    assert _refusal(_error(None, None)) == (
        None, "PostgreSQL refused the row: 22008 (SQLSTATE 22008)")
    assert _refusal(_error("COPY t, line 1", None, None)) == (
        None, "PostgreSQL refused the row: refused (SQLSTATE None)")
