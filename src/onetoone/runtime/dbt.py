"""dbt as the project runs it: the environment its profile reads, the runner, the manifest,
and what the manifest declares about the marts (their documented and personal columns).

The manifest is dbt's own record of the project: the daily DAG is rendered from it (Cosmos), and
access grants and erasures read the personal columns (``config: meta: {pii: true}`` in the
marts' YAML) from it, so they are declared once. dbt writes ``manifest.json`` in place, so
whoever reads it while a dbt command writes it (or after one was killed) finds it half-written.
Hence:

- ``parse_project`` runs `dbt parse` into a folder of its own and renames the checked manifest
  into the state folder's dbt target, so that a reader finds the old file or the new one;
- ``read_manifest`` re-parses the state folder's manifest when it is missing or unreadable;
- ``manifest_for_rendering`` gives Cosmos the last good manifest, a copy only ever replaced by
  rename: the DAG file parses whatever state the target's manifest is in.

Airflow's dbt tasks never write here: each runs in a copy of the project with its own target
(see ``plugins/onetoone_airflow/cosmos_config.py``).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
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


def _dbt_executable() -> Path:
    """This virtualenv's dbt (the one pinned in the lock file)."""
    return Path(sys.executable).parent / "dbt"


def run_dbt(dbt_args: list[str], **options) -> int:
    """Run this virtualenv's dbt in the project folder against the configured warehouse
    (``options`` go to ``subprocess.run``, e.g. where its output goes)."""
    return subprocess.run([str(_dbt_executable()), *dbt_args], cwd=config.DBT_PROJECT_DIR,
                          env={**os.environ, **dbt_environment()}, **options).returncode


MANIFEST_NAME = "manifest.json"
PARTIAL_PARSE_NAME = "partial_parse.msgpack"
PARSE_TIMEOUT_SECONDS = 600


class ManifestError(RuntimeError):
    """The manifest cannot be read and could not be parsed again."""


def state_manifest_path() -> Path:
    """Where dbt writes the manifest: the state folder's dbt target."""
    return config.paths().dbt_target / MANIFEST_NAME


def last_good_path() -> Path:
    """The last manifest that read completely (what the DAG is rendered from)."""
    return config.paths().dbt_target.parent / "last_good" / MANIFEST_NAME


def _decode(raw: bytes, path: Path) -> dict:
    try:
        manifest = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ManifestError(f"{path} is not a complete dbt manifest ({err})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("nodes"), dict):
        raise ManifestError(f"{path} is not a dbt manifest (it has no nodes)")
    return manifest


def load(path: Path) -> dict:
    """One manifest file, checked to be complete; no recovery (``read_manifest`` recovers)."""
    return _decode(path.read_bytes(), path)


def _write_atomically(path: Path, raw: bytes) -> None:
    """Write aside, flush, rename over ``path``: readers see the old bytes or the new ones."""
    config.private_dir(path.parent)
    fd, aside = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(raw)
            out.flush()
            os.fsync(out.fileno())
        os.replace(aside, path)
    except BaseException:
        Path(aside).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _parse_lock() -> Iterator[None]:
    """One `dbt parse` at a time per state folder (DAG parsing and tasks may all recover)."""
    lock_file = config.paths().dbt_target.parent / ".parse.lock"
    config.private_dir(lock_file.parent)
    with lock_file.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _dbt_environment(target_path: Path) -> dict[str, str]:
    return {**os.environ, **dbt_environment(), "DBT_TARGET_PATH": str(target_path)}


def _parse_unlocked() -> Path:
    target = config.paths().dbt_target
    config.private_dir(target)
    aside = Path(tempfile.mkdtemp(prefix=".parse-", dir=target.parent))
    try:
        # dbt re-reads only the changed files when it finds the previous parse's state.
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(target / PARTIAL_PARSE_NAME, aside / PARTIAL_PARSE_NAME)
        result = subprocess.run(
            [str(_dbt_executable()), "parse", "--quiet", "--target-path", str(aside)],
            cwd=config.DBT_PROJECT_DIR, env=_dbt_environment(aside), capture_output=True,
            text=True, timeout=PARSE_TIMEOUT_SECONDS, check=False)
        if result.returncode != 0:
            # dbt's own message names the project file at fault (no warehouse data in it).
            said = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise ManifestError(f"dbt parse of {config.DBT_PROJECT_DIR} failed (exit "
                                f"{result.returncode}): {' | '.join(said)}")
        raw = (aside / MANIFEST_NAME).read_bytes()
        _decode(raw, aside / MANIFEST_NAME)
        _write_atomically(last_good_path(), raw)
        # The partial-parse file too, so that the next dbt command by hand parses fast.
        for artifact in sorted(aside.iterdir()):
            if artifact.is_file() and artifact.name != MANIFEST_NAME:
                os.replace(artifact, target / artifact.name)
        os.replace(aside / MANIFEST_NAME, target / MANIFEST_NAME)
    finally:
        shutil.rmtree(aside, ignore_errors=True)
    return target / MANIFEST_NAME


def parse_project() -> Path:
    """`dbt parse` (no database needed) into a folder of its own; the checked manifest replaces
    the target's by rename and becomes the last good one. Raises ManifestError if dbt fails."""
    with _parse_lock():
        return _parse_unlocked()


def _recover(reason: ManifestError | OSError) -> dict:
    path = state_manifest_path()
    with _parse_lock():
        # Another process may have parsed while this one waited for the lock.
        with contextlib.suppress(ManifestError, OSError):
            return load(path)
        log.warning("the dbt manifest is unreadable (%s): parsing the dbt project again",
                    reason)
        return load(_parse_unlocked())


def read_manifest(path: Path | None = None) -> dict:
    """The manifest as a dict. The state folder's own (the default) recovers by itself: if it is
    missing or unreadable the project is parsed again. Another file is only read."""
    if path is not None and path.resolve() != state_manifest_path().resolve():
        return load(path)
    try:
        return load(state_manifest_path())
    except (ManifestError, OSError) as err:
        return _recover(err)


def manifest_for_rendering() -> Path:
    """A complete manifest for Cosmos to render the DAG from: the target's manifest when it
    reads completely (copied to the last good one if it changed), else the last good one,
    else a fresh parse. Cosmos gets the last good copy's path, which changes only by rename."""
    path, good = state_manifest_path(), last_good_path()
    try:
        raw = path.read_bytes()
        _decode(raw, path)
    except (ManifestError, OSError) as err:
        if good.exists():
            log.warning("the dbt manifest is unreadable (%s): rendering from the last good "
                        "one, %s", err, good)
            return good
        _recover(err)
        raw = path.read_bytes()
        _decode(raw, path)
    try:
        unchanged = good.read_bytes() == raw
    except FileNotFoundError:
        unchanged = False
    if not unchanged:
        _write_atomically(good, raw)
    return good


@dataclass(frozen=True)
class MartIndex:
    """An index a mart declares in its dbt config (dbt-postgres ``indexes``)."""

    columns: tuple[str, ...]
    unique: bool = False
    method: str | None = None  # dbt's ``type``: btree, hash, gin, ...


@dataclass(frozen=True)
class MartColumns:
    """What dbt's manifest says about one mart: its documented columns and the personal ones,
    its primary key and its indexes."""

    documented: frozenset[str]
    personal: frozenset[str]
    tags: frozenset[str]
    primary_key: tuple[str, ...] = ()
    indexes: tuple[MartIndex, ...] = ()

    @property
    def readable(self) -> frozenset[str]:
        return self.documented - self.personal


def manifest_file(manifest_path: Path | None = None) -> Path:
    return manifest_path or state_manifest_path()


def mart_columns(manifest_path: Path | None = None) -> dict[str, MartColumns]:
    """Per mart table name, its columns as declared in the dbt YAML (``meta.pii`` = personal).

    The state folder's manifest re-parses itself when missing or half-written; a manifest given
    by path is only read. An empty answer (no such manifest) makes every caller fail closed."""
    path = manifest_file(manifest_path)
    if path.resolve() != state_manifest_path().resolve() and not path.exists():
        log.warning("no dbt manifest at %s (run `onetoone dbt parse`): no mart's columns "
                    "are known", path)
        return {}
    nodes = read_manifest(path)["nodes"]
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
            primary_key=_primary_key(node),
            indexes=_indexes(node),
        )
    return marts


def _primary_key(node: dict) -> tuple[str, ...]:
    """The key declared in dbt's YAML: a model-level ``primary_key`` constraint, else the columns
    that carry one."""
    for constraint in node.get("constraints") or []:
        if constraint.get("type") == "primary_key":
            return tuple(c.lower() for c in constraint.get("columns") or [])
    return tuple(name.lower() for name, column in node.get("columns", {}).items()
                 if any(c.get("type") == "primary_key" for c in column.get("constraints") or []))


def _indexes(node: dict) -> tuple[MartIndex, ...]:
    """The indexes of the model's ``indexes`` config (dbt builds them in marts_build)."""
    return tuple(
        MartIndex(columns=tuple(c.lower() for c in index.get("columns") or []),
                  unique=bool(index.get("unique")), method=index.get("type") or None)
        for index in (node.get("config") or {}).get("indexes") or [] if index.get("columns"))


def _column_meta(column: dict) -> dict:
    # dbt 1.10+ keeps a column's meta under config (and mirrors it at the top level).
    return {**column.get("meta", {}), **column.get("config", {}).get("meta", {})}
