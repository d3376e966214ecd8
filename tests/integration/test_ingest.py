"""Ingest against the real embedded PostgreSQL: nothing is lost (read = loaded + quarantined),
bad files are refused visibly, and reruns give the same tables."""

from __future__ import annotations

import json
import logging
import shutil
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from onetoone.operations import pipeline
from onetoone.stages.ingest.erp import ErpContractBroken
from onetoone.stages.ingest.parsers import CALL_COLUMNS

pytestmark = pytest.mark.integration

UNTIL = datetime(2025, 3, 10, tzinfo=UTC)
HEADER = ",".join(CALL_COLUMNS)


def call(n: int, *, day: str = "2025-03-01", satisfaction: str = "4", duration: str = "60") -> str:
    return (f"CL{n},{day} 10:00:{n % 60:02d},CC{n % 7},María José Núñez,+55 11 98765-4321,,"
            f"billing,{duration},{satisfaction},false,resolved,AG001")


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    calls = tmp_path / "callcenter"
    calls.mkdir()
    (calls / "calls_2025-03-01.csv").write_text("\n".join([HEADER, call(1), call(2)]) + "\n")
    (calls / "calls_2025-03-02.csv").write_text("\n".join([
        HEADER, call(3, day="2025-03-02"), call(4, satisfaction="9"), call(5, duration="-1"),
        "CL6,not a date,CC1,x,1,,billing,1,1,false,resolved,AG1", 'CL7,"broken']) + "\n")
    (calls / "calls_2025-03-03.csv").write_bytes(
        ("\n".join([HEADER, call(8, day="2025-03-03"), call(9, day="2025-03-03")]) + "\n")
        .encode("cp1252"))
    # the same bytes delivered twice under another name
    shutil.copy(calls / "calls_2025-03-01.csv", calls / "calls_2025-03-04.csv")
    (calls / "calls_2025-03-05.csv").write_text("")
    # quiet days: header-only files share their bytes and are not duplicates of each other
    (calls / "calls_2025-03-07.csv").write_text(HEADER + "\n")
    (calls / "calls_2025-03-08.csv").write_text(HEADER + "\n")
    (calls / "calls_2025-03-06.csv").write_text(HEADER.replace(",agent_id", "") + "\nCL10,x\n")
    (calls / "notes.txt").write_text("left here by someone\n")
    # after the interval: must not be loaded yet
    (calls / "calls_2025-03-10.csv").write_text(HEADER + "\n" + call(11, day="2025-03-10") + "\n")
    web = tmp_path / "web"
    web.mkdir()
    events = [
        {"event_id": "E1", "event_type": "registration", "occurred_at": "2025-03-01T10:00:00-03:00",
         "account_id": "W1", "session_id": "S1", "email": "joao@example.com"},
        {"event_id": "E2", "event_type": "page_view", "occurred_at": "2025-03-01T10:01:00-03:00",
         "account_id": None, "session_id": "S2", "page_category": "books"},
    ]
    (web / "events_2025-03-01.ndjson").write_text(
        "\n".join(json.dumps(e) for e in events) + '\n{"event_id": "E3", "event_ty\n')
    return tmp_path


def ledger(conn) -> list[tuple]:
    return conn.execute(
        "select source_ref, status, rows_read, rows_loaded, rows_quarantined, message"
        " from raw.load_batches order by source_ref").fetchall()


def table_snapshot(conn) -> dict[str, list]:
    return {
        table: conn.execute(f"select * from raw.{table} order by 1, 2").fetchall()
        for table in ("callcenter_calls", "web_events")
    } | {"quarantine": conn.execute(
        "select source_file, line_number, field, reason from raw.quarantine order by 1, 2"
    ).fetchall()}


def test_call_files_are_loaded_quarantined_or_refused_and_nothing_is_lost(clean_raw, landing):
    summary = pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL,
                            landing=landing)
    taken = [p for p in (landing / "callcenter").iterdir()
             if p.name < "calls_2025-03-10" and p.name.startswith("calls_2025-03-0")
             and p.name not in ("calls_2025-03-04.csv", "calls_2025-03-05.csv",
                                "calls_2025-03-06.csv")]
    lines_given = sum(max(len(p.read_bytes().splitlines()) - 1, 0) for p in taken)
    with psycopg.connect(clean_raw) as conn:
        rows = {ref: rest for ref, *rest in ledger(conn)}
        loaded = conn.execute("select count(*) from raw.callcenter_calls").fetchone()[0]
        quarantined = conn.execute("select count(*) from raw.quarantine").fetchone()[0]
        quarantined_from_taken = conn.execute(
            "select count(*) from raw.quarantine where source_file = any(%s)",
            ([f"callcenter/{p.name}" for p in taken],)).fetchone()[0]
    for ref, (_status, read, ok, bad, _message) in rows.items():
        assert read == ok + bad, ref
    assert rows["callcenter/calls_2025-03-01.csv"][:4] == ["loaded", 2, 2, 0]
    assert rows["callcenter/calls_2025-03-02.csv"][:4] == ["loaded", 5, 1, 4]
    assert rows["callcenter/calls_2025-03-03.csv"][:4] == ["loaded", 2, 0, 2]
    assert rows["callcenter/calls_2025-03-04.csv"][0] == "refused"
    assert "duplicate delivery" in rows["callcenter/calls_2025-03-04.csv"][4]
    assert rows["callcenter/calls_2025-03-05.csv"][0] == "refused"
    assert "missing columns: agent_id" in rows["callcenter/calls_2025-03-06.csv"][4]
    assert "unexpected file name" in rows["callcenter/notes.txt"][4]
    assert "callcenter/calls_2025-03-10.csv" not in rows
    assert rows["callcenter/calls_2025-03-08.csv"][:4] == ["loaded", 0, 0, 0]
    total_read = sum(r[1] for r in rows.values())
    assert total_read == loaded + quarantined
    # every data line of the files taken in is a loaded row or a quarantined one (a parser
    # that skipped a line without counting it would pass the ledger checks above)
    assert loaded == 3 and lines_given == loaded + quarantined_from_taken
    assert summary.totals()["refused"] == 4


def test_a_daily_file_batch_covers_its_day(clean_raw, landing):
    """Row-count checks compare a load with the same weekday's: the ledger needs the day."""
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=landing)
    with psycopg.connect(clean_raw) as conn:
        windows = {ref: (start, end) for ref, start, end in conn.execute(
            "select source_ref, window_start, window_end from raw.load_batches")}
    assert windows["callcenter/calls_2025-03-02.csv"] == (
        datetime(2025, 3, 2, tzinfo=UTC), datetime(2025, 3, 3, tzinfo=UTC))
    assert windows["callcenter/notes.txt"] == (None, None)


def test_quarantine_names_file_line_field_and_keeps_the_original(clean_raw, landing):
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=landing)
    with psycopg.connect(clean_raw) as conn:
        row = conn.execute(
            "select source_file, line_number, field, reason, raw_record from raw.quarantine"
            " where field = 'satisfaction'").fetchone()
    assert row[0] == "callcenter/calls_2025-03-02.csv" and row[1] == 3
    assert "outside 1-5" in row[3] and row[4] == call(4, satisfaction="9")


def test_rerun_is_idempotent_and_a_changed_file_replaces_its_batch(clean_raw, landing):
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=landing)
    pipeline.ingest("web", warehouse=clean_raw, until=UNTIL, landing=landing)
    with psycopg.connect(clean_raw) as conn:
        before = table_snapshot(conn)
    again = pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=landing)
    assert {b.status for b in again.batches} == {"skipped"}
    with psycopg.connect(clean_raw) as conn:
        assert table_snapshot(conn) == before

    fixed = landing / "callcenter" / "calls_2025-03-02.csv"
    fixed.write_text("\n".join([HEADER, call(3, day="2025-03-02"), call(4)]) + "\n")
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=landing)
    with psycopg.connect(clean_raw) as conn:
        ids = [r[0] for r in conn.execute(
            "select call_id from raw.callcenter_calls where _source_file like '%03-02%'"
            " order by 1")]
        stale = conn.execute(
            "select count(*) from raw.quarantine where source_file like '%03-02%'").fetchone()[0]
    assert ids == ["CL3", "CL4"] and stale == 0


def test_web_events_keep_payload_and_quarantine_truncated_json(clean_raw, landing):
    pipeline.ingest("web", warehouse=clean_raw, until=UNTIL, landing=landing)
    with psycopg.connect(clean_raw) as conn:
        payload = conn.execute(
            "select payload->>'email' from raw.web_events where event_id = 'E1'").fetchone()[0]
        reason = conn.execute("select reason from raw.quarantine").fetchone()[0]
    assert payload == "joao@example.com"
    assert reason.startswith("not JSON")


def test_erp_extraction_is_incremental_and_reruns_reuse_their_window(clean_raw, erp_source):
    first = pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source,
                          until=UNTIL)
    counts = {b.entity: (b.rows_read, b.rows_loaded, b.rows_quarantined) for b in first.batches}
    assert counts == {"products": (2, 1, 1), "customers": (1, 1, 0), "orders": (1, 1, 0),
                      "order_lines": (3, 1, 2)}
    with psycopg.connect(clean_raw) as conn:
        reasons = sorted(r[0] for r in conn.execute("select reason from raw.quarantine"))
    assert reasons == ["negative quantity -1", "negative unit_price -3.00",
                       "unknown product 'P404': not in the ERP products table"]

    later = datetime(2025, 3, 20, tzinfo=UTC)
    second = pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source,
                           until=later)
    assert {b.entity: b.rows_read for b in second.batches}["customers"] == 1  # only C2

    # The rerun loads the same rows again; only when they were loaded (_loaded_at) changes.
    rows = ("select to_jsonb(c) - '_loaded_at' from raw.erp_customers c"
            " order by customer_id, _batch_id")
    with psycopg.connect(clean_raw) as conn:
        before = conn.execute(rows).fetchall()
    pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=UNTIL)
    with psycopg.connect(clean_raw) as conn:
        after = conn.execute(rows).fetchall()
    assert before == after


def test_an_erp_table_missing_a_column_refuses_the_extraction_before_anything_is_read(
        clean_raw, erp_source):
    with psycopg.connect(erp_source, autocommit=True) as erp:
        erp.execute("alter table erp.orders drop column channel")
    with pytest.raises(ErpContractBroken) as refused:
        pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=UNTIL)
    assert str(refused.value).startswith("ERP extraction refused, nothing extracted:"
                                         " erp.orders is missing column(s) channel.")
    with psycopg.connect(clean_raw) as conn:
        assert conn.execute("select count(*) from raw.load_batches").fetchone()[0] == 0

    # Once the ERP has it back, the same interval extracts everything: nothing was lost.
    with psycopg.connect(erp_source, autocommit=True) as erp:
        erp.execute("alter table erp.orders add column channel text;"
                    " update erp.orders set channel = 'web'")
    again = pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source,
                          until=UNTIL)
    assert {b.entity: b.rows_read for b in again.batches} == {
        "products": 2, "customers": 1, "orders": 1, "order_lines": 3}


def test_a_new_erp_column_is_not_extracted_but_logged(clean_raw, erp_source, caplog):
    with psycopg.connect(erp_source, autocommit=True) as erp:
        erp.execute("alter table erp.customers add column loyalty_tier text")
    with caplog.at_level(logging.WARNING, logger="onetoone.stages.ingest.erp"):
        summary = pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source,
                                until=UNTIL)
    assert "erp.customers has column(s) loyalty_tier that the extract contract does not name" \
        in caplog.text
    counts = {b.entity: (b.rows_read, b.rows_loaded, b.rows_quarantined) for b in summary.batches}
    assert counts == {"products": (2, 1, 1), "customers": (1, 1, 0), "orders": (1, 1, 0),
                      "order_lines": (3, 1, 2)}


# --- one bad value never stops the pipeline ---------------------------------------------------

SECRET_EMAIL = "maria.nunez@example.com"


def test_values_raw_cannot_hold_are_quarantined_and_the_rest_of_the_file_loads(
        clean_raw, tmp_path, caplog):
    calls = tmp_path / "callcenter"
    calls.mkdir()
    with_email = call(2).replace(",,billing", f",{SECRET_EMAIL},billing")
    (calls / "calls_2025-03-01.csv").write_text("\n".join([
        HEADER, call(1),
        with_email.replace("AG001", "AG\x00001"),              # line 3: NUL byte
        call(3, duration="99999999999"),                        # line 4: over integer range
        call(4).replace(",billing,", ',"billing\nand refund",'),  # lines 5-6: one record
        call(5)]) + "\n")
    # A refused file keeps its lines in quarantine: a NUL there must not stop it either.
    (calls / "calls_2025-03-02.csv").write_bytes(
        (HEADER.replace(",agent_id", "") + "\nCL9,\x00x\n").encode())
    web = tmp_path / "web"
    web.mkdir()
    base = ('{"event_id": "E%d", "event_type": "registration", "account_id": "W1",'
            ' "occurred_at": "2025-03-01T10:00:00Z", "email": "' + SECRET_EMAIL + '"%s}')
    (web / "events_2025-03-01.ndjson").write_bytes(b"\xef\xbb\xbf" + "\n".join([
        base % (1, ""),
        base % (2, ', "first_name": "Ana\\u0000"'),
        base % (3, ', "score": NaN'),
        base % (4, ', "last_name": "\\udc00"'),
        base % (5, ', "first_name": {"given": "Ana"}'),
        base % (6, ', "birth_date": "1990-02-30"'),
        base % (7, "")]).encode() + b"\n")
    (web / "events_2025-03-02.ndjson").write_bytes(b"")

    with caplog.at_level(logging.DEBUG):
        calls_summary = pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL,
                                      landing=tmp_path)
        web_summary = pipeline.ingest("web", warehouse=clean_raw, until=UNTIL,
                                    landing=tmp_path)

    assert SECRET_EMAIL not in caplog.text
    assert calls_summary.totals() | {"batches": 0} == {
        "batches": 0, "skipped": 0, "refused": 1, "rows_read": 7, "rows_loaded": 3,
        "rows_quarantined": 4}
    assert web_summary.totals()["refused"] == 1  # the empty file
    with psycopg.connect(clean_raw) as conn:
        rows = {ref: rest for ref, *rest in ledger(conn)}
        assert rows["callcenter/calls_2025-03-01.csv"][:4] == ["loaded", 5, 3, 2]
        assert rows["callcenter/calls_2025-03-02.csv"][:4] == ["refused", 2, 0, 2]
        assert rows["web/events_2025-03-01.ndjson"][:4] == ["loaded", 7, 2, 5]
        assert rows["web/events_2025-03-02.ndjson"][0] == "refused"
        assert "empty file" in rows["web/events_2025-03-02.ndjson"][4]
        quarantined = conn.execute(
            "select source_file, line_number, field, reason from raw.quarantine"
            " where reason not like 'file refused%' order by source_file, line_number").fetchall()
        assert conn.execute("select raw_record from raw.quarantine where source_file ="
                            " 'callcenter/calls_2025-03-02.csv' and line_number = 2"
                            ).fetchone() == ("CL9,\\x00x",)
        multi = conn.execute("select reason, _line_number from raw.callcenter_calls"
                             " where call_id = 'CL4'").fetchone()
        loaded_events = [r[0] for r in conn.execute(
            "select event_id from raw.web_events order by 1")]
    assert multi == ("billing\nand refund", 5)
    assert loaded_events == ["E1", "E7"]  # E1 despite the byte order mark before it
    where = [(f.split("/")[1], n, field) for f, n, field, _ in quarantined]
    assert where == [
        ("calls_2025-03-01.csv", 3, "agent_id"), ("calls_2025-03-01.csv", 4, "duration_seconds"),
        ("events_2025-03-01.ndjson", 2, "first_name"), ("events_2025-03-01.ndjson", 3, "score"),
        ("events_2025-03-01.ndjson", 4, "last_name"),
        ("events_2025-03-01.ndjson", 5, "first_name"),
        ("events_2025-03-01.ndjson", 6, "birth_date")]
    reasons = [reason for *_, reason in quarantined]
    assert reasons[0].startswith("a NUL byte (0x00) at position")
    assert "outside the integer range" in reasons[1]
    assert all(SECRET_EMAIL not in reason for reason in reasons)

    # Recorded: the retry skips the files instead of failing on them again.
    again = pipeline.ingest("web", warehouse=clean_raw, until=UNTIL, landing=tmp_path)
    assert {b.status for b in again.batches} == {"skipped"}


def test_erp_values_raw_cannot_hold_are_quarantined_and_the_rest_is_extracted(
        clean_raw, erp_source, caplog):
    with psycopg.connect(erp_source, autocommit=True) as erp:
        erp.execute(f"""
            alter table erp.order_lines alter column quantity type bigint;
            alter table erp.products alter column unit_price type numeric;
            insert into erp.order_lines values
                ('O1', 4, 'P1', 3000000000, 25, 10, 0, '2025-03-02'),
                ('O1', 5, 'P1', 1, 'NaN', 10, 0, '2025-03-02');
            insert into erp.products values
                ('P3', 'Mesa', 'home', 'NaN', 50, '2025-01-01'),
                ('P4', 'Carro', 'toys', 1, 123456789012, '2025-01-01');
            insert into erp.customers (customer_id, first_name, email, birth_date, updated_at)
                values ('C3', 'Maria', '{SECRET_EMAIL}', 'infinity', '2025-03-01'),
                       ('C4', 'Rosa', 'rosa@example.com', '20000-01-01', '2025-03-01'),
                       ('C5', 'Lia', 'lia@example.com', '1980-05-04', '2025-03-01');
        """)
    with caplog.at_level(logging.DEBUG):
        summary = pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source,
                                until=UNTIL)
    assert SECRET_EMAIL not in caplog.text
    counts = {b.entity: (b.rows_read, b.rows_loaded, b.rows_quarantined) for b in summary.batches}
    assert counts == {"products": (4, 1, 3), "customers": (4, 2, 2), "orders": (1, 1, 0),
                      "order_lines": (5, 1, 4)}
    with psycopg.connect(clean_raw) as conn:
        reasons = dict(conn.execute(
            "select record_key, field || ': ' || reason from raw.quarantine"
            " where source = 'erp'").fetchall())
        assert conn.execute("select customer_id from raw.erp_customers order by 1"
                            ).fetchall() == [("C1",), ("C5",)]
    assert reasons["order_id=O1, line_number=4"] == (
        "quantity: quantity 3000000000 is outside the integer range -2147483648..2147483647")
    assert reasons["order_id=O1, line_number=5"] == "unit_price: unit_price NaN is not a finite" \
        " number"
    assert reasons["product_id=P3"] == "unit_cost: unit_cost NaN is not a finite number"
    assert reasons["product_id=P4"] == ("unit_price: unit_price 123456789012 does not fit"
                                        " numeric(12, 2)")
    assert reasons["customer_id=C3"] == reasons["customer_id=C4"] == (
        "birth_date: birth_date is not a date the warehouse can hold (a finite value in years"
        " 1 to 9999)")
    assert all(SECRET_EMAIL not in reason for reason in reasons.values())


def test_a_replaced_batch_waits_for_the_raw_gate_again(clean_raw, landing):
    from onetoone.stages.ingest.ledger import batches_awaiting_raw_gate, record_raw_gate

    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=landing)
    with psycopg.connect(clean_raw) as conn:
        record_raw_gate(conn, batches_awaiting_raw_gate(conn), passed=True, run_id="run-1")
        assert batches_awaiting_raw_gate(conn) == []
    # Re-delivered with new rows; the run then fails before its raw check.
    (landing / "callcenter" / "calls_2025-03-02.csv").write_text(
        "\n".join([HEADER, call(3, day="2025-03-02"), call(4)]) + "\n")
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=landing)
    with psycopg.connect(clean_raw) as conn:
        waiting = batches_awaiting_raw_gate(conn)
        replaced = conn.execute("select batch_id from raw.load_batches"
                                " where source_ref = 'callcenter/calls_2025-03-02.csv'"
                                ).fetchone()[0]
    assert waiting == [replaced]


def test_a_row_postgresql_still_refuses_is_quarantined_without_its_value(
        clean_raw, erp_source, tmp_path, caplog):
    """Should raw refuse what the parsers let through (here: columns narrowed in raw), the
    batch is loaded again in chunks and only the refused rows are quarantined."""
    from onetoone.stages.ingest.ledger import ensure_schema

    with psycopg.connect(clean_raw, autocommit=True) as conn:
        ensure_schema(conn)
        conn.execute("alter table raw.callcenter_calls alter column phone type varchar(8);"
                     " alter table raw.erp_customers alter column email type varchar(8)")
    with psycopg.connect(erp_source, autocommit=True) as erp:
        erp.execute("insert into erp.customers (customer_id, email, updated_at)"
                    f" values ('C6', '{SECRET_EMAIL}', '2025-03-01')")
    calls = tmp_path / "callcenter"
    calls.mkdir()
    lines = [call(n).replace("+55 11 98765-4321", "1234") for n in range(1, 2500)]
    lines[1500] = lines[1500].replace(",1234,", f",{SECRET_EMAIL},")  # line 1502
    (calls / "calls_2025-03-01.csv").write_text("\n".join([HEADER, *lines]) + "\n")

    with caplog.at_level(logging.DEBUG):
        files = pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL,
                              landing=tmp_path)
        erp = pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source,
                            until=UNTIL)

    assert SECRET_EMAIL not in caplog.text
    assert "PostgreSQL refused a row (22001); loading again to quarantine it" in caplog.text
    [calls_batch] = files.batches
    assert (calls_batch.rows_read, calls_batch.rows_loaded, calls_batch.rows_quarantined) == (
        2499, 2498, 1)
    customers = next(b for b in erp.batches if b.entity == "customers")
    assert (customers.rows_read, customers.rows_loaded, customers.rows_quarantined) == (2, 1, 1)
    with psycopg.connect(clean_raw) as conn:
        refused = conn.execute(
            "select source, line_number, record_key, field, reason, raw_record"
            " from raw.quarantine where reason like 'PostgreSQL%' order by source").fetchall()
    reason = "PostgreSQL refused the row: value too long for type character varying(8)" \
        " (SQLSTATE 22001)"
    assert [r[:5] for r in refused] == [
        ("callcenter", 1502, "line 1502", "phone", reason),
        ("erp", None, "customer_id=C6", "email", reason)]
    assert refused[0][5] == lines[1500]  # the line as delivered, for whoever fixes it
