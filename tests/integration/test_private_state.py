"""The state folder holds personal data (landing extracts, GX results, identity state, logs):
after real runs, nothing in it is readable, writable or listable by group or others.

Each test runs in a state folder of its own, not yet created, so that every folder and file in
it was made by the run under test. The processes are real: the CLI as an operator starts it,
and a Python process that imports the Airflow glue as every DAG file does, then runs a stage."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import psycopg
import pytest

from onetoone.foundation.config import PLUGINS_DIR, embedded_url
from onetoone.operations.migrate import migrate
from onetoone.stages.identity import store as identity_store
from onetoone.stages.identity.linker import save_model

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_private_state_test"


def open_to_others(home: Path) -> list[str]:
    """Every folder or file under ``home`` (itself included) with a group or other bit set."""
    found = []
    for path in (home, *home.rglob("*")):
        mode = path.lstat().st_mode
        if stat.S_ISLNK(mode) or stat.S_ISSOCK(mode):
            continue
        if mode & 0o077:
            found.append(f"{stat.filemode(mode)} {path.relative_to(home.parent)}")
    return found


@pytest.fixture
def state_home(tmp_path: Path) -> Path:
    """A state folder that does not exist yet, in a folder as a user's umask makes it."""
    os.chmod(tmp_path, 0o755)
    return tmp_path / "state"


@pytest.fixture
def usual_umask() -> Iterator[None]:
    """The umask most accounts have (022), restored afterwards."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def run(argv: list[str], home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ONETOONE_HOME": str(home)}
    result = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600,
                            check=False, preexec_fn=lambda: os.umask(0o022))
    assert result.returncode == 0, result.stderr[-2000:]
    return result


def test_the_cli_writes_the_landing_zone_private(state_home: Path):
    onetoone = Path(sys.executable).parent / "onetoone"
    run([str(onetoone), "generate", "--customers", "40", "--seed", "7", "--days", "5",
         "--no-erp-load", "--out", str(state_home / "landing")], state_home)
    assert any((state_home / "landing").rglob("*.csv"))
    assert open_to_others(state_home) == []


@pytest.fixture(scope="module")
def db_url(warehouse) -> Iterator[str]:
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')
        admin.execute(f'create database "{TEST_DB}"')
    url = embedded_url(TEST_DB)
    with psycopg.connect(url) as conn:
        migrate(conn)
    yield url
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')


AIRFLOW_TASK = """
import sys
from datetime import UTC, datetime

sys.path.insert(0, {plugins!r})
import onetoone_airflow  # noqa: F401  (what every DAG file imports first)

import great_expectations as gx
import great_expectations.expectations as gxe

from onetoone.stages.quality.runner import run_suites
from onetoone.stages.quality.spec import TableSuite, warning

suite = TableSuite(table="raw.erp_customers", suite=gx.ExpectationSuite(
    name="test.private.erp_customers", expectations=[gxe.ExpectColumnValuesToNotBeNull(
        column="customer_id", meta=warning("test"))]))
run_suites("raw", "run-private", [suite], as_of=datetime(2025, 3, 1, tzinfo=UTC),
           warehouse={url!r})
"""


def test_a_quality_run_in_an_airflow_task_process_writes_gx_files_private(
        state_home: Path, db_url: str, tmp_path: Path):
    """GX writes its results, config and Data Docs itself: only the process's umask, set by
    importing the Airflow glue, keeps them private."""
    # A file, not `python -c`: pyspark (imported by GX) exits a main module without a file,
    # taking it for its doctests.
    task = tmp_path / "task.py"
    task.write_text(textwrap.dedent(AIRFLOW_TASK).format(plugins=str(PLUGINS_DIR), url=db_url))
    run([sys.executable, str(task)], state_home)
    gx_files = [p for p in (state_home / "gx").rglob("*") if p.is_file()]
    assert any(p.suffix == ".html" for p in gx_files) and any(p.suffix == ".json"
                                                              for p in gx_files)
    assert open_to_others(state_home) == []


def test_identity_state_is_private_even_without_the_umask(state_home: Path, usual_umask,
                                                          monkeypatch):
    """The project's own writers set the modes themselves, for a caller that did not start
    through the CLI or Airflow (a notebook, a script)."""
    monkeypatch.setenv("ONETOONE_HOME", str(state_home))
    frame = pd.DataFrame({"source": ["erp"], "source_record_id": ["C1"], "email": ["a@b.c"]})
    identity_store.write_standardised_records(frame, "v1")
    identity_store.write_scoring_state(
        identity_store.IdentityState("m1", frame, frame), full_rebuild=True,
        as_of=datetime(2025, 3, 1, tzinfo=UTC))
    save_model({"model_version": "m1"}, identity_store.models_dir() / "model-m1.json")
    assert len([p for p in state_home.rglob("*") if p.is_file()]) >= 7
    assert open_to_others(state_home) == []
