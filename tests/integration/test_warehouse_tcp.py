"""A BI tool connects to the embedded server over TCP as the README says, and every other
command keeps working however the server was started."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg
import pytest

from onetoone.cli import main
from onetoone.foundation import config
from onetoone.runtime import warehouse

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def tcp_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A server of its own (the session's keeps running beside it), started as the README says."""
    monkeypatch.setenv("ONETOONE_HOME", str(tmp_path / "state"))
    port = _free_port()
    monkeypatch.setenv(config.TCP_PORT_ENV, str(port))
    yield port
    monkeypatch.delenv(config.TCP_PORT_ENV, raising=False)
    warehouse.stop()


def test_bi_tool_connects_over_tcp_and_commands_keep_working(tcp_home, monkeypatch, capsys):
    port = tcp_home
    assert main(["warehouse", "start"]) == 0
    started = capsys.readouterr().out
    assert f"tcp:    127.0.0.1:{port}" in started
    # A BI tool: host 127.0.0.1, the port, the password from the pgpass file.
    paths = config.paths()
    with psycopg.connect(host="127.0.0.1", port=port, user="postgres", dbname="onetoone",
                         passfile=str(paths.pgpass)) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
    assert f"127.0.0.1:{port}:*:postgres:" in paths.pgpass.read_text()

    # Later commands, without the variable, find the running server on its port.
    monkeypatch.delenv(config.TCP_PORT_ENV)
    assert config.embedded_port() == port
    with psycopg.connect(config.warehouse_url()) as conn:
        assert conn.execute("show port").fetchone() == (str(port),)
    assert main(["warehouse", "migrate"]) == 0
    assert main(["warehouse", "status"]) == 0
    assert f"port:   {port}" in capsys.readouterr().out

    # Asking for another port while it runs is refused in one line; nothing is rewritten.
    pgpass_before = paths.pgpass.read_text()
    monkeypatch.setenv(config.TCP_PORT_ENV, str(port + 1 if port < 65535 else port - 1))
    assert main(["warehouse", "start"]) == 2
    error = capsys.readouterr().err
    assert "already runs on 127.0.0.1" in error and "warehouse stop" in error
    assert len(error.strip().splitlines()) == 1
    assert paths.pgpass.read_text() == pgpass_before
    assert os.stat(paths.pgpass).st_mode & 0o077 == 0
