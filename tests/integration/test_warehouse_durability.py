"""A commit the embedded warehouse acknowledged survives the server being killed (no clean
shutdown, shared memory lost, as in a power cut or an OOM kill of the whole server)."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import psycopg
import pytest

pytestmark = pytest.mark.integration

COMMITS = 3000


def _server_processes(postmaster: int) -> list[int]:
    """The postmaster and every process it started (backends, WAL writer, checkpointer...)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == postmaster:
            children.append(int(stat.parent.name))
    return [postmaster, *children]


def _kill_server(postmaster: int) -> None:
    # Stop them all first, so none can flush or restart another while the others die.
    processes = _server_processes(postmaster)
    for pid in processes:
        os.kill(pid, signal.SIGSTOP)
    for pid in processes:
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in processes):
        assert time.monotonic() < deadline, "the killed server processes did not go away"
        time.sleep(0.05)


def test_acknowledged_commits_survive_killing_the_server(warehouse, warehouse_url):
    from onetoone.runtime import warehouse as embedded

    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop table if exists public.durability_probe")
        conn.execute("create table public.durability_probe (n int primary key)")
        conn.execute("checkpoint")  # the table is on disk whatever the commit setting
    acknowledged = 0
    conn = psycopg.connect(warehouse_url, autocommit=True)
    try:
        # Each insert is its own transaction; psycopg returns only once the server said COMMIT.
        for n in range(COMMITS):
            conn.execute("insert into public.durability_probe values (%s)", (n,))
            acknowledged += 1
        _kill_server(embedded.status().pid)
    finally:
        conn.close()
    embedded.start()  # crash recovery replays the WAL
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        kept = conn.execute("select count(*) from public.durability_probe").fetchone()[0]
        conn.execute("drop table public.durability_probe")
    assert kept == acknowledged, f"{acknowledged - kept} of {acknowledged} acknowledged " \
                                 "commits were lost"
