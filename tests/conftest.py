"""Shared fixtures. Tests never touch the developer's `.state`: the session gets its own state
folder and its own embedded PostgreSQL server, stopped at the end."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def onetoone_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    previous = os.environ.get("ONETOONE_HOME")
    os.environ["ONETOONE_HOME"] = str(home)
    yield home
    if previous is None:
        os.environ.pop("ONETOONE_HOME", None)
    else:
        os.environ["ONETOONE_HOME"] = previous


@pytest.fixture(scope="session")
def warehouse(onetoone_home: Path):
    """The embedded server of this test session; yields its status."""
    from onetoone import warehouse as embedded

    if "ONETOONE_WAREHOUSE_URL" in os.environ:
        pytest.skip("tests run against their own embedded server; unset ONETOONE_WAREHOUSE_URL")
    status = embedded.start()
    yield status
    embedded.stop()


@pytest.fixture(scope="session")
def warehouse_url(warehouse) -> str:
    from onetoone.config import warehouse_url

    return warehouse_url()


@pytest.fixture(scope="session")
def erp_url(warehouse) -> str:
    from onetoone.config import erp_source_url

    return erp_source_url()
