"""`onetoone airflow ui` serves Airflow's real UI on 127.0.0.1 and says how to log in."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def airflow_ui(dbt_manifest, onetoone_home):
    port = _free_port()
    onetoone = Path(sys.executable).parent / "onetoone"
    process = subprocess.Popen([str(onetoone), "airflow", "ui", "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               start_new_session=True)
    try:
        yield port, process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


def test_the_ui_answers_on_localhost_and_the_login_is_printed(airflow_ui, onetoone_home):
    port, process = airflow_ui
    first_line = process.stdout.readline()
    assert first_line.startswith(f"Airflow UI: http://127.0.0.1:{port}/"), first_line
    deadline = time.monotonic() + 120
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health",
                                        timeout=5) as answer:
                health = json.load(answer)
                break
        except OSError:
            assert process.poll() is None, "the UI server exited"
            assert time.monotonic() < deadline, "the UI did not answer within 120 s"
            time.sleep(1)
    assert health["metadatabase"]["status"] == "healthy"
    passwords = onetoone_home / "airflow" / "simple_auth_manager_passwords.json.generated"
    assert str(passwords) in first_line
    assert "admin" in json.loads(passwords.read_text())
    with socket.socket() as other_interface:  # bound to loopback only
        host = socket.gethostbyname(socket.gethostname())
        if not host.startswith("127."):
            assert other_interface.connect_ex((host, port)) != 0
