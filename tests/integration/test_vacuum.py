"""Erasure's VACUUM waits out a transaction that still sees the erased row versions: run while
another connection of the same database holds an older snapshot, it is repeated until the
dead versions can go, and says so when they cannot."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from onetoone.foundation.db import vacuum_away_dead_rows

TABLE = "public.vacuum_probe"


@pytest.fixture
def erased_row(warehouse_url):
    """A table whose one row was deleted, and a reader that opened its snapshot before."""
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"drop table if exists {TABLE}")
        conn.execute(f"create table {TABLE} (email text)")
        conn.execute(f"insert into {TABLE} values ('ana@example.com')")
    reader = psycopg.connect(warehouse_url)
    reader.execute("set transaction isolation level repeatable read")
    reader.execute(f"select count(*) from {TABLE}").fetchone()  # its snapshot is taken here
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"delete from {TABLE}")
    yield reader
    reader.close()
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute(f"drop table {TABLE}")


def test_the_vacuum_is_repeated_until_the_reader_that_held_the_rows_is_gone(
        warehouse_url, erased_row):
    threading.Timer(0.6, erased_row.rollback).start()
    started = time.monotonic()
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        left = vacuum_away_dead_rows(conn, [TABLE], pause_seconds=0.2)
    assert left == {}
    assert time.monotonic() - started >= 0.6, "the first VACUUM could not have removed it"


def test_versions_an_open_transaction_still_holds_are_named_in_a_warning(
        warehouse_url, erased_row, caplog):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        left = vacuum_away_dead_rows(conn, [TABLE], attempts=2, pause_seconds=0.05)
    assert left == {TABLE: 1}
    assert f"{TABLE}: 1 dead row version(s) are still held" in caplog.text
    assert "ana@example.com" not in caplog.text
