"""Loads running side by side with each other, with a migration and with an erasure, against
the real embedded PostgreSQL: none of them deadlocks (issue #15: parallel ingest tasks failed
their first try with "deadlock detected" in `delete from raw.quarantine`).

Every CLI command migrates the warehouse before it works, so three `onetoone ingest <source>`
processes started together have one migrating while another is loading. The migration's DDL
locked raw.quarantine before the data tables, a batch its data table before raw.quarantine."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg
import pytest

from onetoone.foundation import erasures
from onetoone.generate import generate
from onetoone.generate.erp_source import load_erp_source
from onetoone.operations import pipeline
from onetoone.operations.migrate import migrate, migrate_warehouse
from onetoone.stages.ingest import files
from onetoone.stages.ingest.parsers import CALL_COLUMNS

pytestmark = pytest.mark.integration

SOURCES = ("callcenter", "web", "erp")
ROUNDS = 5  # before the fix 9 of 10 rounds deadlocked; one round takes about two seconds
WAIT_SECONDS = 20


def _fresh_raw(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade")
    migrate_warehouse(url)


def _ledger(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select source, entity, source_ref, status, rows_read, rows_loaded, rows_quarantined"
            " from raw.load_batches order by source, entity, source_ref").fetchall()


def _in_threads(jobs: dict[str, Callable[[], object]]) -> dict[str, str]:
    """Run the jobs at once, each on its own connections; answer the errors by job."""
    barrier = threading.Barrier(len(jobs))
    errors: dict[str, str] = {}

    def run(name: str, job: Callable[[], object]) -> None:
        barrier.wait()
        try:
            job()
        except Exception as err:  # reported by the test, with the job's name
            errors[name] = f"{type(err).__name__}: {str(err).splitlines()[0]}"

    threads = [threading.Thread(target=run, args=item) for item in jobs.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


def test_three_sources_each_migrating_then_loading_at_once_never_deadlock(
        warehouse_url, erp_url, tmp_path):
    generate(tmp_path, customers=200, seed=3, days=10, end_date=date(2026, 10, 31))
    load_erp_source(erp_url, tmp_path / "erp")
    until = datetime(2026, 11, 1, tzinfo=UTC)

    def command(source: str) -> Callable[[], object]:
        # what `onetoone ingest <source>` does: migrate, then load
        return lambda: (migrate_warehouse(warehouse_url),
                        pipeline.ingest(source, warehouse=warehouse_url, erp=erp_url,
                                        until=until, landing=tmp_path))

    _fresh_raw(warehouse_url)
    for source in SOURCES:
        command(source)()
    one_at_a_time = _ledger(warehouse_url)

    for attempt in range(ROUNDS):
        _fresh_raw(warehouse_url)
        errors = _in_threads({source: command(source) for source in SOURCES})
        assert errors == {}, f"round {attempt + 1} of {ROUNDS}"
        assert _ledger(warehouse_url) == one_at_a_time
    _fresh_raw(warehouse_url)


HEADER = ",".join(CALL_COLUMNS)


def _calls(landing: Path, names: tuple[str, ...]) -> None:
    folder = landing / "callcenter"
    folder.mkdir(exist_ok=True)
    rows = [f"CL{n},2025-03-01 10:00:0{n},CC{n},{name},+55 11 98765-432{n},{name}@example.com,"
            f"billing,60,4,false,resolved,AG001" for n, name in enumerate(names, start=1)]
    # one bad row, so that the batch writes raw.quarantine too
    (folder / "calls_2025-03-01.csv").write_text("\n".join([HEADER, *rows, "CL9,x"]) + "\n")


def _beside_a_paused_batch(url: str, landing: Path, monkeypatch,
                           other: Callable[[dict[str, int]], object]) -> dict[str, str]:
    """Load the call-center file and pause its batch once the transaction has opened it (its
    earlier rows deleted, its data table locked), before it writes rows and quarantine; run
    ``other`` (which puts its backend's pid in the dict) then, and resume the batch once
    ``other`` waits for a lock. Answers the errors of both."""
    reached, resume = threading.Event(), threading.Event()
    copy_rows = files._copy_rows

    def paused(*args, **kwargs):
        if not reached.is_set():
            reached.set()
            assert resume.wait(WAIT_SECONDS)
        return copy_rows(*args, **kwargs)

    monkeypatch.setattr(files, "_copy_rows", paused)
    backend: dict[str, int] = {}

    def beside() -> None:
        assert reached.wait(WAIT_SECONDS)
        running = threading.Thread(target=lambda: errors.update(_in_threads(
            {"other": lambda: other(backend)})))
        running.start()
        _wait_for_lock_wait(url, backend)
        resume.set()
        running.join(timeout=120)

    errors: dict[str, str] = {}
    errors.update(_in_threads({"batch": _load_calls(url, landing), "beside": beside}))
    return errors


def _wait_for_lock_wait(url: str, backend: dict[str, int]) -> None:
    """Until the backend waits for a lock: for the batch's locks (the deadlock) or, since the
    fix, for the batch to end (it does not time out to let the batch go on by itself)."""
    with psycopg.connect(url, autocommit=True) as conn:
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if "pid" in backend and conn.execute(
                    "select exists (select 1 from pg_locks where pid = %s and not granted)",
                    (backend["pid"],)).fetchone()[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the other transaction never waited for the batch")


def _load_calls(url: str, landing: Path) -> Callable[[], object]:
    return lambda: pipeline.ingest("callcenter", warehouse=url, landing=landing,
                                   until=datetime(2025, 3, 2, tzinfo=UTC))


def test_a_migration_meeting_a_running_batch_waits_for_it(clean_raw, tmp_path, monkeypatch):
    _calls(tmp_path, ("Ana",))

    def migrate_now(backend: dict[str, int]) -> None:
        with psycopg.connect(clean_raw) as conn, conn.transaction():
            backend["pid"] = conn.info.backend_pid
            migrate(conn)

    assert _beside_a_paused_batch(clean_raw, tmp_path, monkeypatch, migrate_now) == {}
    assert [row[3:] for row in _ledger(clean_raw)] == [("loaded", 2, 1, 1)]


@pytest.fixture
def erasure_registry(clean_raw):
    """The session's erasure registry outlives the raw layer: take this test's erasure out of
    it again, or every later load would scrub the contact it names."""
    yield clean_raw
    with psycopg.connect(clean_raw) as conn:
        conn.execute("delete from audit.erased_subjects where erasure_id in (select erasure_id"
                     " from audit.erasures where requested_by = %s)", (REQUESTED_BY,))
        conn.execute("delete from audit.erasures where requested_by = %s", (REQUESTED_BY,))


REQUESTED_BY = "test_ingest_concurrency"


def test_an_erasure_meeting_a_batch_that_reloads_the_person_waits_for_it_and_erases_them(
        erasure_registry, tmp_path, monkeypatch):
    """forget takes the erasure lock, then writes raw; a batch took its share of the lock only
    at the scrub, after deleting the rows it replaces (the ones the erasure must change)."""
    clean_raw = erasure_registry
    _calls(tmp_path, ("Ana", "Bia"))
    _load_calls(clean_raw, tmp_path)()
    _calls(tmp_path, ("Ana", "Bia", "Cai"))  # re-delivered: the batch is replaced

    def forget_ana(backend: dict[str, int]) -> None:  # the shape of operations.forget's
        with psycopg.connect(clean_raw) as conn, conn.transaction():
            backend["pid"] = conn.info.backend_pid
            erasures.lock_for_erasure(conn)
            conn.execute("update raw.callcenter_calls set caller_name = null, phone = null,"
                         " email = null where contact_id = 'CC1'")
            erasures.record_erasure(conn, requested_by=REQUESTED_BY, reason="test",
                                    requested_with="email", customer_keys=[],
                                    records=[("callcenter", "CC1")],
                                    emails=["Ana@example.com"], counts={})

    assert _beside_a_paused_batch(clean_raw, tmp_path, monkeypatch, forget_ana) == {}
    with psycopg.connect(clean_raw) as conn:
        rows = conn.execute("select contact_id, caller_name, email from raw.callcenter_calls"
                            " order by contact_id").fetchall()
    assert rows == [("CC1", None, None), ("CC2", "Bia", "Bia@example.com"),
                    ("CC3", "Cai", "Cai@example.com")]
