"""Re-processing quarantined rows after a fix, on the real PostgreSQL: rows that now pass land in
their raw table with lineage back to file, line and quarantine row; rows still bad stay
quarantined with the new reason; the ledger still reconciles; a second run changes nothing; and
rows that fail the raw quality checks are taken back."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from onetoone.cli import main
from onetoone.operations import pipeline
from onetoone.stages.ingest.parsers import CALL_COLUMNS
from onetoone.stages.ingest.quarantine import Selection, reprocess

pytestmark = pytest.mark.integration

UNTIL = datetime(2025, 3, 10, tzinfo=UTC)
HEADER = ",".join(CALL_COLUMNS)
# Columns in another order than the contract's: re-parsing must use the file's own header.
REORDERED_HEADER = ",".join((*CALL_COLUMNS[1:], CALL_COLUMNS[0]))


def call(n: int, *, day: str = "2025-03-02", satisfaction: str = "4", duration: str = "60",
         reason: str = "billing", called_at: str | None = None) -> str:
    """A call line in REORDERED_HEADER order (call_id last)."""
    when = called_at or f"{day} 10:00:{n % 60:02d}"
    return (f"{when},CC{n % 7},Ana Souza,+55 11 98765-4321,,{reason},{duration},"
            f"{satisfaction},false,resolved,AG001,CL{n}")


def ledger_reconciles(conn: psycopg.Connection) -> None:
    """Per batch read = loaded + open quarantine, and the counts match the tables."""
    for batch_id, ref, read, loaded, quarantined, table_rows, open_rows in conn.execute("""
            select b.batch_id, b.source_ref, b.rows_read, b.rows_loaded, b.rows_quarantined,
                   (select count(*) from raw.callcenter_calls c where c._batch_id = b.batch_id)
                 + (select count(*) from raw.erp_order_lines l where l._batch_id = b.batch_id)
                 + (select count(*) from raw.erp_products p where p._batch_id = b.batch_id)
                 + (select count(*) from raw.erp_customers u where u._batch_id = b.batch_id)
                 + (select count(*) from raw.erp_orders o where o._batch_id = b.batch_id)
                 + (select count(*) from raw.web_events w where w._batch_id = b.batch_id),
                   (select count(*) from raw.quarantine q
                     where q.batch_id = b.batch_id and q.reprocessed_at is null)
              from raw.load_batches b"""):
        assert read == loaded + quarantined, (batch_id, ref)
        assert (table_rows, open_rows) == (loaded, quarantined), (batch_id, ref)


def raw_state(conn: psycopg.Connection) -> dict[str, list]:
    """Raw's rows without when they were written (_loaded_at: a reload rewrites it)."""
    return {
        "calls": conn.execute("select to_jsonb(c) - '_loaded_at' from raw.callcenter_calls c"
                              " order by call_id").fetchall(),
        "lines": conn.execute(
            "select to_jsonb(l) - '_loaded_at' from raw.erp_order_lines l"
            " order by order_id, line_number").fetchall(),
        "quarantine": conn.execute(
            "select quarantine_id, field, reason, reprocessed_at, corrected_record"
            " from raw.quarantine order by 1").fetchall(),
        "ledger": conn.execute("select batch_id, rows_read, rows_loaded, rows_quarantined"
                               " from raw.load_batches order by 1").fetchall(),
    }


def test_reference_fix_loads_the_erp_row_it_unblocked_and_keeps_the_others(clean_raw,
                                                                           erp_source):
    pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=UNTIL)
    with psycopg.connect(erp_source, autocommit=True) as erp:
        # the fix: the product the order line refers to now exists in the ERP
        erp.execute("insert into erp.products values ('P404', 'Caneca', 'home', 4, 9,"
                    " '2025-03-11')")

    result = reprocess(clean_raw, Selection(source="erp"), requested_by="ana.silva",
                       reason="TICKET-42: P404 created in the ERP", erp=erp_source)

    assert (result.loaded, len(result.still_quarantined), result.skipped) == (1, 2, ())
    assert {o.reason for o in result.still_quarantined} == {
        "negative quantity -1", "negative unit_price -3.00"}
    with psycopg.connect(clean_raw) as conn:
        line = conn.execute(
            "select l.product_id, l.quantity, l.unit_price, l._batch_id, l._extracted_at,"
            " q.batch_id, q.reprocessed_by, q.reprocessing_id, q.reason"
            " from raw.erp_order_lines l join raw.quarantine q"
            "   on q.quarantine_id = l._quarantine_id").fetchone()
        product, quantity, price, batch_id, extracted_at, origin, by, rid, reason = line
        assert (product, quantity, float(price)) == ("P404", 1, 9.0)
        assert batch_id == origin and extracted_at == UNTIL  # lineage: its batch and window
        assert (by, rid) == ("ana.silva", result.reprocessing_id)
        assert reason.startswith("unknown product 'P404'")  # why it was quarantined, kept
        assert conn.execute("select rows_read, rows_loaded, rows_quarantined"
                            " from raw.load_batches where batch_id = %s",
                            (batch_id,)).fetchone() == (3, 2, 1)
        logged = conn.execute(
            "select requested_by, reason, method, status, rows_attempted, rows_loaded,"
            " rows_still_quarantined, batch_ids from raw.quarantine_reprocessings").fetchone()
        assert logged == ("ana.silva", "TICKET-42: P404 created in the ERP", "stored text",
                          "applied", 3, 1, 2, [batch_id])
        ledger_reconciles(conn)
        before = raw_state(conn)

    again = reprocess(clean_raw, Selection(source="erp"), requested_by="ana.silva",
                      reason="rerun", erp=erp_source)
    assert again.loaded == 0 and len(again.still_quarantined) == 2
    with psycopg.connect(clean_raw) as conn:
        assert raw_state(conn) == before  # idempotent: the loaded row is not loaded twice
        assert conn.execute("select count(*) from raw.quarantine_attempts").fetchone()[0] == 5


@pytest.fixture
def call_landing(tmp_path: Path) -> Path:
    calls = tmp_path / "callcenter"
    calls.mkdir()
    (calls / "calls_2025-03-02.csv").write_text("\n".join([
        REORDERED_HEADER,
        call(1),                                   # line 2: good
        call(2, satisfaction="9"),                 # line 3: out of range
        call(3, called_at="02/03/2025 10:00"),     # line 4: day-first date
        call(4, duration="-1"),                    # line 5: negative duration
        call(1, satisfaction="5"),                 # line 6: repeats CL1
    ]) + "\n")
    (calls / "calls_2025-03-03.csv").write_bytes(
        (REORDERED_HEADER + "\n" + call(5, day="2025-03-03").replace("Ana", "Zoé") + "\n")
        .encode("cp1252"))
    (calls / "calls_2025-03-04.csv").write_text(HEADER + ",loyalty_tier\n" + "x\n")
    return tmp_path


def quarantine_ids(conn: psycopg.Connection) -> dict[tuple[str, int], int]:
    return {(Path(f).name, n): i for i, f, n in conn.execute(
        "select quarantine_id, source_file, line_number from raw.quarantine")}


def test_corrected_rows_are_reloaded_with_lineage_and_a_still_bad_one_stays(
        clean_raw, call_landing, tmp_path, capsys):
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=call_landing)
    export = tmp_path / "quarantine.csv"
    assert main(["quarantine", "list", "--source", "callcenter", "--csv", str(export)]) == 0
    with export.open(newline="", encoding="utf-8") as exported:
        rows = list(csv.DictReader(exported))
    assert len(rows) == 4 + 1 + 2  # four bad lines, the cp1252 line, the refused file's two
    by_line = {(Path(r["source_file"]).name, int(r["line_number"])): r for r in rows}
    assert by_line[("calls_2025-03-02.csv", 3)]["field"] == "satisfaction"
    assert by_line[("calls_2025-03-03.csv", 2)]["record_is_exact"] == "false"

    # The engineer fixes two rows, gets a third wrong again, leaves the others as they were.
    by_line[("calls_2025-03-02.csv", 3)]["record"] = call(2, satisfaction="3")
    by_line[("calls_2025-03-02.csv", 4)]["record"] = call(3, called_at="2025-03-02 10:00:00")
    by_line[("calls_2025-03-02.csv", 5)]["record"] = call(4, duration="sixty")
    with export.open("w", newline="", encoding="utf-8") as edited:
        writer = csv.DictWriter(edited, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with psycopg.connect(clean_raw) as conn:
        ids = quarantine_ids(conn)

    code = main(["quarantine", "reprocess", "--corrections", str(export), "--by", "joao.lima",
                 "--reason", "TICKET-7: corrected by hand from the call recordings"])

    printed = capsys.readouterr().out
    assert code == 0, printed
    assert "2 loaded into raw, 2 still quarantined, 3 skipped" in printed
    assert "[duration_seconds]: not an integer: 'sixty'" in printed
    assert "duplicate call_id CL1" in printed
    assert "refused as a whole" in printed and "not the line as delivered" in printed
    with psycopg.connect(clean_raw) as conn:
        loaded = conn.execute(
            "select call_id, satisfaction, called_at, _source_file, _line_number,"
            " _quarantine_id from raw.callcenter_calls where _quarantine_id is not null"
            " order by call_id").fetchall()
        assert loaded == [
            ("CL2", 3, datetime(2025, 3, 2, 10, 0, 2), "callcenter/calls_2025-03-02.csv", 3,
             ids[("calls_2025-03-02.csv", 3)]),
            ("CL3", 4, datetime(2025, 3, 2, 10, 0), "callcenter/calls_2025-03-02.csv", 4,
             ids[("calls_2025-03-02.csv", 4)]),
        ]
        still = conn.execute(
            "select field, reason, raw_record, corrected_record, reprocessed_at"
            " from raw.quarantine where quarantine_id = %s",
            (ids[("calls_2025-03-02.csv", 5)],)).fetchone()
        assert still == ("duration_seconds", "not an integer: 'sixty'", call(4, duration="-1"),
                         call(4, duration="sixty"), None)
        resolved = conn.execute(
            "select reason, raw_record, corrected_record, reprocessed_by from raw.quarantine"
            " where quarantine_id = %s", (ids[("calls_2025-03-02.csv", 3)],)).fetchone()
        assert resolved == ("satisfaction 9 outside 1-5", call(2, satisfaction="9"),
                            call(2, satisfaction="3"), "joao.lima")
        attempts = dict(conn.execute(
            "select quarantine_id, reason_before from raw.quarantine_attempts"
            " where outcome = 'still_quarantined'").fetchall())
        assert attempts[ids[("calls_2025-03-02.csv", 5)]] == "negative duration -1"
        method, quality_run = conn.execute(
            "select method, quality_run_id from raw.quarantine_reprocessings").fetchone()
        assert method == "corrections from quarantine.csv"
        assert conn.execute("select bool_and(success) from audit.validation_runs"
                            " where run_id = %s", (quality_run,)).fetchone()[0] is True
        ledger_reconciles(conn)
        read, in_raw, still_open = conn.execute(
            "select (select sum(rows_read) from raw.load_batches),"
            " (select count(*) from raw.callcenter_calls),"
            " (select count(*) from raw.quarantine where reprocessed_at is null)").fetchone()
        assert read == in_raw + still_open  # every line delivered is in raw or in quarantine

    # The open rows list no longer shows the loaded ones; --all shows them as re-processed.
    main(["quarantine", "list", "--batch", str(_batch_of(clean_raw, "03-02"))])
    listed = capsys.readouterr().out
    assert listed.startswith("2 open quarantined row(s)") and "CL2" not in listed
    main(["quarantine", "list", "--batch", str(_batch_of(clean_raw, "03-02")), "--all"])
    assert "re-processed by #" in capsys.readouterr().out

    # The source later re-delivers the file: it replaces the batch, the history stays.
    (call_landing / "callcenter" / "calls_2025-03-02.csv").write_text(
        "\n".join([REORDERED_HEADER, call(1), call(2), call(3), call(4)]) + "\n")
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=call_landing)
    with psycopg.connect(clean_raw) as conn:
        assert conn.execute("select count(*), count(_quarantine_id) from raw.callcenter_calls"
                            " where _source_file like '%03-02%'").fetchone() == (4, 0)
        assert conn.execute("select count(*) from raw.quarantine_attempts").fetchone()[0] == 4
        ledger_reconciles(conn)


def _batch_of(url: str, day: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("select batch_id from raw.load_batches where source_ref like %s",
                            (f"%{day}%",)).fetchone()[0]


def test_rows_failing_the_raw_checks_are_taken_back(clean_raw, call_landing, tmp_path, capsys):
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=call_landing)
    with psycopg.connect(clean_raw) as conn:
        before = raw_state(conn)
        quarantine_id = quarantine_ids(conn)[("calls_2025-03-02.csv", 3)]
    corrections = tmp_path / "fix.csv"
    # Passes the parser (it does not know the reasons), fails the raw suite's critical rule.
    corrections.write_text(f"quarantine_id,record\n{quarantine_id},"
                           f"\"{call(2, satisfaction='3', reason='weather')}\"\n")

    code = main(["quarantine", "reprocess", "--corrections", str(corrections),
                 "--by", "joao.lima", "--reason", "TICKET-8"])

    printed = capsys.readouterr().out
    assert code == 1
    assert "taken back" in printed
    assert "raw.callcenter_calls" in printed and "expect_column_values_to_be_in_set(reason)" \
        in printed and '["weather"]' in printed
    with psycopg.connect(clean_raw) as conn:
        after = raw_state(conn)
        assert after["calls"] == before["calls"] and after["ledger"] == before["ledger"]
        reason, reprocessed_at = conn.execute(
            "select reason, reprocessed_at from raw.quarantine where quarantine_id = %s",
            (quarantine_id,)).fetchone()
        assert reprocessed_at is None
        assert "taken back" in reason and "expect_column_values_to_be_in_set(reason)" in reason
        assert conn.execute("select status from raw.quarantine_reprocessings"
                            ).fetchone()[0] == "reverted"
        ledger_reconciles(conn)


def test_reprocess_refuses_a_corrections_file_naming_row_and_field(clean_raw, call_landing,
                                                                   tmp_path, capsys):
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=call_landing)
    with psycopg.connect(clean_raw) as conn:
        before = raw_state(conn)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("quarantine_id,record\n99999,x\n")
    typo = tmp_path / "typo.csv"
    typo.write_text("quarantine_id,record\n1,x\nl2,y\n")

    assert main(["quarantine", "reprocess", "--corrections", str(unknown), "--by", "a",
                 "--reason", "b"]) == 2
    assert "no quarantine row 99999" in capsys.readouterr().out
    assert main(["quarantine", "reprocess", "--corrections", str(typo), "--by", "a",
                 "--reason", "b"]) == 2
    assert "row 3, field quarantine_id: not an integer: 'l2'" in capsys.readouterr().out
    assert main(["quarantine", "reprocess", "--by", "a", "--reason", "b"]) == 2
    with psycopg.connect(clean_raw) as conn:
        assert raw_state(conn) == before
        assert conn.execute("select count(*) from raw.quarantine_reprocessings"
                            ).fetchone()[0] == 0


def _export(path: Path, *args: str) -> list[dict]:
    assert main(["quarantine", "list", *args, "--csv", str(path)]) == 0
    with path.open(newline="", encoding="utf-8") as exported:
        return list(csv.DictReader(exported))


def _write_corrections(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as edited:
        writer = csv.DictWriter(edited, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def test_a_correction_survives_a_rerun_of_its_erp_window_with_the_same_ids(
        clean_raw, erp_source, tmp_path, capsys):
    pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=UNTIL)
    export = tmp_path / "erp.csv"
    rows = _export(export, "--source", "erp")
    assert export.stat().st_mode & 0o777 == 0o600  # personal data: the owner's only
    negative = next(r for r in rows if r["reason"] == "negative quantity -1")
    negative["record"] = negative["record"].replace('"quantity": -1', '"quantity": 1')
    _write_corrections(export, [negative])
    assert main(["quarantine", "reprocess", "--corrections", str(export), "--by", "ana.silva",
                 "--reason", "TICKET-9: quantity confirmed by the store"]) == 0, \
        capsys.readouterr().out
    with psycopg.connect(clean_raw) as conn:
        before = raw_state(conn)
        ids_before = sorted(r[0] for r in conn.execute("select quarantine_id from raw.quarantine"))

    # Every retry of that day extracts the same window again.
    for _ in range(2):
        pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=UNTIL)

    with psycopg.connect(clean_raw) as conn:
        assert raw_state(conn) == before
        assert sorted(r[0] for r in conn.execute("select quarantine_id from raw.quarantine")
                      ) == ids_before
        line = conn.execute("select quantity, _quarantine_id from raw.erp_order_lines"
                            " where line_number = 3").fetchone()
        assert line == (1, int(negative["quarantine_id"]))
        capsys.readouterr()
        assert main(["quarantine", "list", "--source", "erp"]) == 0
        listed = capsys.readouterr().out
        assert listed.startswith("2 open quarantined row(s)")
        assert f"#{negative['quarantine_id']} " not in listed
        ledger_reconciles(conn)

    # The ERP then changes that very row: the correction was for the old one, the row is open.
    with psycopg.connect(erp_source, autocommit=True) as erp:
        erp.execute("update erp.order_lines set quantity = -2 where line_number = 3")
    pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=UNTIL)
    with psycopg.connect(clean_raw) as conn:
        reason, reprocessed_at, corrected = conn.execute(
            "select reason, reprocessed_at, corrected_record from raw.quarantine"
            " where quarantine_id = %s", (int(negative["quarantine_id"]),)).fetchone()
        assert reason.startswith("negative quantity -2 (the source changed this record")
        assert (reprocessed_at, corrected) == (None, None)
        assert conn.execute("select count(*) from raw.erp_order_lines where line_number = 3"
                            ).fetchone()[0] == 0
        ledger_reconciles(conn)


def test_a_correction_survives_a_redelivery_that_repeats_its_line(
        clean_raw, call_landing, tmp_path, capsys):
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=call_landing)
    export = tmp_path / "calls.csv"
    rows = _export(export, "--source", "callcenter")
    fixed = next(r for r in rows if r["field"] == "satisfaction")
    fixed["record"] = call(2, satisfaction="3")
    _write_corrections(export, [fixed])
    assert main(["quarantine", "reprocess", "--corrections", str(export), "--by", "joao.lima",
                 "--reason", "TICKET-10"]) == 0, capsys.readouterr().out

    # Re-delivered: line 3 as before, line 4 fixed at the source, line 6 gone.
    (call_landing / "callcenter" / "calls_2025-03-02.csv").write_text("\n".join([
        REORDERED_HEADER, call(1), call(2, satisfaction="9"), call(3), call(4, duration="-1"),
    ]) + "\n")
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=call_landing)
    with psycopg.connect(clean_raw) as conn:
        calls = conn.execute(
            "select call_id, satisfaction, _line_number, _quarantine_id from raw.callcenter_calls"
            " where _source_file like '%03-02%' order by call_id").fetchall()
        assert calls == [("CL1", 4, 2, None), ("CL2", 3, 3, int(fixed["quarantine_id"])),
                         ("CL3", 4, 4, None)]
        open_rows = conn.execute(
            "select line_number, reason from raw.quarantine where reprocessed_at is null"
            " and source_file like '%03-02%'").fetchall()
        assert open_rows == [(5, "negative duration -1")]
        ledger_reconciles(conn)


def test_a_warehouse_from_before_record_keys_gets_them_and_keeps_its_ids_on_rerun(
        clean_raw, erp_source, call_landing):
    from onetoone.stages.ingest.ledger import ensure_schema

    pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=UNTIL)
    pipeline.ingest("callcenter", warehouse=clean_raw, until=UNTIL, landing=call_landing)
    with psycopg.connect(clean_raw) as conn:
        written = conn.execute("select quarantine_id, record_key from raw.quarantine"
                               " order by 1").fetchall()
        # The layout before record_key existed.
        conn.execute("alter table raw.quarantine drop column record_key")
        conn.commit()
        ensure_schema(conn)
        conn.commit()
        assert conn.execute("select quarantine_id, record_key from raw.quarantine"
                            " order by 1").fetchall() == written
    assert ("order_id=O1, line_number=2") in {key for _, key in written}
    pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=UNTIL)
    with psycopg.connect(clean_raw) as conn:
        assert conn.execute("select quarantine_id, record_key from raw.quarantine"
                            " order by 1").fetchall() == written
