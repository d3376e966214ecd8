"""The package's layout holds: the import contracts in pyproject.toml (floors, independent
stages, no Airflow in the domain, no cycles; imports inside functions count), argparse only in
the command line, and stage code working in its caller's connection."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from onetoone.foundation.config import PROJECT_ROOT

PACKAGE = PROJECT_ROOT / "src" / "onetoone"
# Stage code that still opens connections, and why (everything else takes the caller's).
OPENS_ITS_OWN_CONNECTION = {
    # Great Expectations connects from a URL; the parameter queries and audit rows of a layer's
    # validation go through one connection of the run's own beside it.
    "stages/quality/runner.py",
    "stages/quality/audit.py",
    # Re-processing locks its batches and reads the ERP's current products as it goes.
    "stages/ingest/quarantine.py",
}


def _modules(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.py"))


def _imported_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_import_contracts_hold():
    lint = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(lint), "--config", str(PROJECT_ROOT / "pyproject.toml")],
                            capture_output=True, text=True, cwd=PROJECT_ROOT, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout


def test_argparse_lives_only_in_the_command_line():
    outside = [str(p.relative_to(PACKAGE)) for p in _modules(PACKAGE)
               if "argparse" in _imported_names(p) and p.relative_to(PACKAGE).parts[0] != "cli"]
    assert outside == []


@pytest.mark.parametrize("floor", ["foundation", "runtime", "stages"])
def test_library_code_takes_the_callers_connection(floor):
    opening = []
    for path in _modules(PACKAGE / floor):
        relative = str(path.relative_to(PACKAGE))
        if relative in OPENS_ITS_OWN_CONNECTION or relative == "runtime/warehouse.py":
            continue  # the embedded server's own admin connection creates the databases
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "connect"
                    and isinstance(node.func.value, ast.Name) and node.func.value.id == "psycopg"):
                opening.append(f"{relative}:{node.lineno}")
    assert opening == []


def test_each_stage_owns_its_schema_ddl_in_one_file():
    ddl_files = sorted(str(p.relative_to(PACKAGE)) for p in PACKAGE.rglob("*.sql"))
    assert ddl_files == ["foundation/erasures.sql", "stages/identity/schema.sql",
                         "stages/ingest/schema.sql", "stages/quality/schema.sql",
                         "stages/serving/schema.sql", "stages/value/schema.sql"]
    for path in ddl_files:
        text = (PACKAGE / path).read_text(encoding="utf-8").lower()
        schemas = {line.split("create table if not exists ")[1].split(".")[0]
                   for line in text.splitlines() if "create table if not exists " in line}
        assert len(schemas) == 1, (path, schemas)
    python_ddl = [str(p.relative_to(PACKAGE)) for p in _modules(PACKAGE)
                  if "create table if not exists" in p.read_text(encoding="utf-8").lower()]
    assert python_ddl == []


def test_every_schema_the_project_creates_is_in_the_one_list():
    """Roles are granted per schema from config.PROJECT_SCHEMAS: a schema missing there (as
    `value` once was) leaves the engineer role without access to it."""
    import re

    from onetoone.foundation.config import PROJECT_SCHEMAS

    created = set()
    for path in PACKAGE.rglob("*.sql"):
        created |= set(re.findall(r"create schema if not exists (\w+)", path.read_text()))
    dbt_project = (PROJECT_ROOT / "dbt_project" / "dbt_project.yml").read_text()
    created |= set(re.findall(r"\+schema: (\w+)", dbt_project))
    assert created == {"raw", "identity", "value", "audit", "staging", "intermediate",
                       "marts_build", "snapshots", "seeds"}
    assert created <= set(PROJECT_SCHEMAS)
