"""dbt as the project runs it: the environment its profile reads, the runner, and what the
manifest declares about the marts (their documented and personal columns).

The manifest is dbt's own record of the project; access grants and erasures read the personal
columns (``config: meta: {pii: true}`` in the marts' YAML) from it, so they are declared once.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from onetoone.foundation import config

log = logging.getLogger(__name__)


def dbt_environment() -> dict[str, str]:
    """Environment for running dbt: profiles.yml reads the warehouse from these."""
    parts = config.connection_parts(config.warehouse_url())
    p = config.paths()
    return {
        "ONETOONE_PG_HOST": parts.host,
        "ONETOONE_PG_PORT": str(parts.port),
        "ONETOONE_PG_USER": parts.user,
        "ONETOONE_PG_PASSWORD": parts.password,
        "ONETOONE_PG_DATABASE": parts.dbname,
        "DBT_TARGET_PATH": str(p.dbt_target),
        "DBT_LOG_PATH": str(p.dbt_logs),
        "DBT_PROFILES_DIR": str(config.DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


def run_dbt(dbt_args: list[str], **options) -> int:
    """Run this virtualenv's dbt in the project folder against the configured warehouse
    (``options`` go to ``subprocess.run``, e.g. where its output goes)."""
    dbt = Path(sys.executable).parent / "dbt"
    return subprocess.run([str(dbt), *dbt_args], cwd=config.DBT_PROJECT_DIR,
                          env={**os.environ, **dbt_environment()}, **options).returncode


def parse_project() -> None:
    """Write the manifest Cosmos renders the DAG from (no database needed)."""
    if run_dbt(["parse", "--quiet"]) != 0:
        raise RuntimeError("dbt parse failed")


@dataclass(frozen=True)
class MartColumns:
    """What dbt's manifest says about one mart: its documented columns and the personal ones."""

    documented: frozenset[str]
    personal: frozenset[str]
    tags: frozenset[str]

    @property
    def readable(self) -> frozenset[str]:
        return self.documented - self.personal


def manifest_file(manifest_path: Path | None = None) -> Path:
    return manifest_path or config.paths().dbt_target / "manifest.json"


def mart_columns(manifest_path: Path | None = None) -> dict[str, MartColumns]:
    """Per mart table name, its columns as declared in the dbt YAML (``meta.pii`` = personal).

    An empty answer (no manifest) makes every caller fail closed."""
    path = manifest_file(manifest_path)
    if not path.exists():
        log.warning("no dbt manifest at %s (run `onetoone dbt parse`): no mart's columns "
                    "are known", path)
        return {}
    nodes = json.loads(path.read_text(encoding="utf-8"))["nodes"]
    marts = {}
    for node in nodes.values():
        if node.get("resource_type") != "model" or node.get("schema") != config.BUILD_SCHEMA:
            continue
        columns = node.get("columns", {})
        marts[node.get("alias") or node["name"]] = MartColumns(
            documented=frozenset(name.lower() for name in columns),
            personal=frozenset(name.lower() for name, column in columns.items()
                               if _column_meta(column).get("pii") is True),
            tags=frozenset(node.get("tags", [])),
        )
    return marts


def _column_meta(column: dict) -> dict:
    # dbt 1.10+ keeps a column's meta under config (and mirrors it at the top level).
    return {**column.get("meta", {}), **column.get("config", {}).get("meta", {})}
