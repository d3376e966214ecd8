"""dbt's manifest: the dbt project as parsed, which the daily DAG is rendered from (Cosmos) and
which names the marts' personal columns (access, publish, forget).

dbt writes ``manifest.json`` in place, so whoever reads it while a dbt command writes it (or
after one was killed) finds it half-written. Hence:

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
from pathlib import Path

from onetoone import config

log = logging.getLogger(__name__)

MANIFEST_NAME = "manifest.json"
PARTIAL_PARSE_NAME = "partial_parse.msgpack"
PARSE_TIMEOUT_SECONDS = 600


class ManifestError(RuntimeError):
    """The manifest cannot be read and could not be parsed again."""


def manifest_path() -> Path:
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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, aside = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.chmod(aside, 0o644)  # as dbt writes it, not mkstemp's owner-only mode
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
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _dbt_environment(target_path: Path) -> dict[str, str]:
    from onetoone.cli import dbt_environment

    return {**os.environ, **dbt_environment(), "DBT_TARGET_PATH": str(target_path)}


def _parse_unlocked() -> Path:
    target = config.paths().dbt_target
    target.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=".parse-", dir=target.parent))
    try:
        # dbt re-reads only the changed files when it finds the previous parse's state.
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(target / PARTIAL_PARSE_NAME, aside / PARTIAL_PARSE_NAME)
        dbt = Path(sys.executable).parent / "dbt"
        result = subprocess.run(
            [str(dbt), "parse", "--quiet", "--target-path", str(aside)],
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
    path = manifest_path()
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
    if path is not None and path.resolve() != manifest_path().resolve():
        return load(path)
    try:
        return load(manifest_path())
    except (ManifestError, OSError) as err:
        return _recover(err)


def manifest_for_rendering() -> Path:
    """A complete manifest for Cosmos to render the DAG from: the target's manifest when it
    reads completely (copied to the last good one if it changed), else the last good one,
    else a fresh parse. Cosmos gets the last good copy's path, which changes only by rename."""
    path, good = manifest_path(), last_good_path()
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
