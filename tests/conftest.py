"""Shared fixtures. Tests never touch the developer's `.state`: the session gets its own state
folder (and so its own Airflow home and embedded PostgreSQL server), removed at the end."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

_SESSION_HOME: Path | None = None


def pytest_configure(config: pytest.Config) -> None:
    """Point ONETOONE_HOME and Airflow at a throw-away folder before anything imports Airflow."""
    global _SESSION_HOME
    _SESSION_HOME = Path(tempfile.mkdtemp(prefix="onetoone-test-"))
    os.environ["ONETOONE_HOME"] = str(_SESSION_HOME)
    os.environ.pop("ONETOONE_WAREHOUSE_URL", None)
    os.environ.pop("ONETOONE_ERP_URL", None)
    from onetoone.runtime.airflow_env import airflow_environment

    for name, value in airflow_environment().items():
        if not name.startswith("AIRFLOW_CONN_"):
            os.environ[name] = value


def pytest_unconfigure(config: pytest.Config) -> None:
    if _SESSION_HOME is None:
        return
    from onetoone.runtime import warehouse

    if warehouse.status().running:
        warehouse.stop()
    shutil.rmtree(_SESSION_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def onetoone_home() -> Path:
    return Path(os.environ["ONETOONE_HOME"])


@pytest.fixture(scope="session")
def warehouse(onetoone_home: Path):
    """The embedded server of this test session (started once); Airflow's connections to it."""
    from onetoone.foundation.config import (
        AIRFLOW_CONN_ID,
        ERP_CONN_ID,
        erp_source_url,
        warehouse_url,
    )
    from onetoone.runtime import warehouse as embedded
    from onetoone.runtime.airflow_env import connection_json

    status = embedded.start()
    os.environ["AIRFLOW_CONN_" + AIRFLOW_CONN_ID.upper()] = connection_json(warehouse_url())
    os.environ["AIRFLOW_CONN_" + ERP_CONN_ID.upper()] = connection_json(erp_source_url())
    return status


@pytest.fixture(scope="session")
def warehouse_url(warehouse) -> str:
    from onetoone.foundation.config import warehouse_url

    return warehouse_url()


@pytest.fixture(scope="session")
def erp_url(warehouse) -> str:
    from onetoone.foundation.config import erp_source_url

    return erp_source_url()


@pytest.fixture(scope="session")
def dbt_manifest(onetoone_home: Path) -> Path:
    """The manifest Cosmos renders the DAG from (written by `dbt parse`, no database needed)."""
    from onetoone.runtime.dbt import parse_project

    parse_project()
    manifest = onetoone_home / "dbt" / "target" / "manifest.json"
    assert manifest.exists()
    return manifest


BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _find_browser() -> str | None:
    return next((found for name in BROWSERS if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")
def rendered_dom() -> Callable[[Path | str], str]:
    """A page's DOM after its scripts ran, as a real headless browser dumps it (a file, or a
    URL such as the front-line service's page): Debian's chromium, installed with apt where it
    is missing and we may install it."""
    browser = _find_browser()
    if browser is None and shutil.which("apt-get") and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        if subprocess.run(install, capture_output=True, env=env).returncode != 0:
            subprocess.run(["apt-get", "update"], capture_output=True, env=env)
            subprocess.run(install, capture_output=True, env=env)
        browser = _find_browser()
    if browser is None:
        pytest.fail("the browser tests need chromium: `apt-get install chromium` "
                    "(or put chromium, chromium-browser or google-chrome on PATH)")

    def render(page: Path | str) -> str:
        result = subprocess.run(
            # every compositor stage before each frame: pages that schedule their work on
            # requestAnimationFrame (Splink's dashboards run on Observable's runtime) get their
            # frames within the virtual time budget even when the machine is busy
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--run-all-compositor-stages-before-draw", "--virtual-time-budget=60000", "--dump-dom",
             page if isinstance(page, str) else page.resolve().as_uri()],
            capture_output=True, text=True, timeout=120, check=True)
        return result.stdout

    return render
