"""The environment Airflow runs in, configured by the project (no hand-edited airflow.cfg).

Airflow's home and its metadata database (SQLite, enough for `airflow dags test` and a single
machine) live in the state folder. The warehouse and ERP connections are Airflow connections
given as ``AIRFLOW_CONN_*`` variables; if the caller already set them (an external warehouse),
they are left alone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from onetoone.foundation.config import (
    AIRFLOW_CONN_ID,
    DAGS_DIR,
    ERP_CONN_ID,
    PLUGINS_DIR,
    PRIVATE_DIR_MODE,
    PRIVATE_FILE_MODE,
    connection_parts,
    erp_source_url,
    paths,
    private_dir,
    warehouse_url,
)


def connection_json(libpq_url: str) -> str:
    """An Airflow connection (JSON form) for a libpq URI; a socket directory becomes the host."""
    parts = connection_parts(libpq_url)
    return json.dumps({
        "conn_type": "postgres",
        "host": parts.host,
        "port": parts.port,
        "login": parts.user,
        "password": parts.password,
        "schema": parts.dbname,
    })


def airflow_environment() -> dict[str, str]:
    p = paths()
    env = {
        "ONETOONE_HOME": str(p.home),
        "AIRFLOW_HOME": str(p.airflow_home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PLUGINS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{p.airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(p.airflow_home / "logs"),
        # Task logs quote what tasks log; Airflow's defaults are group-writable (0o775/0o664).
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FOLDER_PERMISSIONS": oct(PRIVATE_DIR_MODE),
        "AIRFLOW__LOGGING__FILE_TASK_HANDLER_NEW_FILE_PERMISSIONS": oct(PRIVATE_FILE_MODE),
        # Cosmos: our DAG renders dbt from a manifest, so no `dbt ls` cache is needed; its
        # partial-parse cache (copied in and out of each task's own project copy by rename)
        # spares every dbt task a full parse of the project.
        "AIRFLOW__COSMOS__ENABLE_CACHE": "True",
        "AIRFLOW__COSMOS__CACHE_DIR": str(p.home / "dbt" / "cosmos_cache"),
        "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_LS": "False",
        "AIRFLOW__COSMOS__ENABLE_CACHE_DBT_YAML_SELECTORS": "False",
        "AIRFLOW__COSMOS__PROPAGATE_LOGS": "False",
        # No DBT_TARGET_PATH: each dbt task writes into its own copy of the project, never into
        # the state folder's target that the DAG is rendered from.
        "DBT_LOG_PATH": str(p.dbt_logs),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
        "GX_ANALYTICS_ENABLED": "False",
        # No usage telemetry: it would try the network on every task.
        "SCARF_ANALYTICS": "false",
        "SCARF_NO_ANALYTICS": "true",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    }
    env.setdefault("AIRFLOW_CONN_" + AIRFLOW_CONN_ID.upper(), connection_json(warehouse_url()))
    env.setdefault("AIRFLOW_CONN_" + ERP_CONN_ID.upper(), connection_json(erp_source_url()))
    for name in ("AIRFLOW_CONN_" + AIRFLOW_CONN_ID.upper(), "AIRFLOW_CONN_" + ERP_CONN_ID.upper()):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def airflow_command(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The argv and environment that run this virtualenv's `airflow` CLI for the project."""
    p = paths()
    private_dir(p.airflow_home)
    env = {**os.environ, **airflow_environment()}
    # The venv's bin first: Airflow starts helper processes by name.
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return [str(Path(bin_dir) / "airflow"), *args], env


def run_airflow(args: list[str], *, check: bool = True, **options) -> subprocess.CompletedProcess:
    """Run the `airflow` CLI of this virtualenv in the project's Airflow environment
    (``options`` go to ``subprocess.run``, e.g. where its output goes)."""
    argv, env = airflow_command(args)
    return subprocess.run(argv, env=env, check=check, **options)


def ensure_airflow_db() -> None:
    """Create or upgrade Airflow's metadata database (idempotent)."""
    run_airflow(["db", "migrate"])
