"""Identity resolution's store: read the unioned customer records that dbt builds, keep the
trained Splink models and the incremental scoring state (files in the state folder), read steward
overrides and key history, and write customer keys, key events, retired keys and the review queue
into the `identity` schema (its DDL: schema.sql beside this file)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql

from onetoone.foundation.config import paths, private_dir, private_file
from onetoone.foundation.db import apply_ddl, read_query, relation_exists, sha256_hex
from onetoone.stages.identity.keys import KeyAssignment
from onetoone.stages.identity.linker import FINGERPRINT_FORMAT, IdentityState, save_model
from onetoone.stages.identity.overrides import DECISIONS, OVERRIDE_COLUMNS, canonical_pair
from onetoone.stages.identity.standardise import DISPLAY_COLUMNS

log = logging.getLogger(__name__)

RECORDS_RELATION = "intermediate.int_customer_records_unioned"
CURRENT_MODEL = "current.json"
# Incremental scoring carries pairs over with the term frequencies of the run that scored them;
# a full re-scoring at least this often keeps that drift bounded.
FULL_REBUILD_EVERY = timedelta(days=7)


def _erased(conn: psycopg.Connection) -> str:
    """SQL true for a row (with ``source``, ``source_record_id``) of a forgotten person's record:
    its hash is in the erasure registry (``foundation.erasures.record_hash``)."""
    if not relation_exists(conn, "audit", "erased_subjects"):
        return "false"
    return sha256_hex(sql.SQL("source || ':' || source_record_id")).as_string(conn) \
        + " in (select subject_hash from audit.erased_subjects)"


def read_records(conn: psycopg.Connection) -> pd.DataFrame:
    """The source customer records to resolve, as text columns (COPY is the fast path out of
    PostgreSQL). A forgotten person's records are left out: their personal fields are null, so
    they would only fall apart into customers of their own (``read_erased_keys``)."""
    return read_query(conn, f"select * from {RECORDS_RELATION} where not ({_erased(conn)})"
                      " order by source, source_record_id",
                      dtype=str, keep_default_na=False, na_values=[""])


def read_previous_keys(conn: psycopg.Connection) -> pd.DataFrame:
    """The last run's record -> key mapping, without forgotten people's records."""
    rows = conn.execute(
        "select source, source_record_id, customer_key from identity.customer_keys"
        f" where not ({_erased(conn)})").fetchall()
    return pd.DataFrame(rows, columns=["source", "source_record_id", "customer_key"])


def read_erased_keys(conn: psycopg.Connection) -> pd.DataFrame:
    """Forgotten people's records with the key they had when they were forgotten: each run
    keeps them under it (their facts keep their customer), and no key is ever made for them."""
    rows = conn.execute(
        "select source, source_record_id, customer_key from identity.customer_keys"
        f" where {_erased(conn)}").fetchall()
    return pd.DataFrame(rows, columns=["source", "source_record_id", "customer_key"])


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create or migrate the identity schema's tables (idempotent; run once per pipeline run)."""
    apply_ddl(conn, "onetoone.stages.identity")


def read_overrides(conn: psycopg.Connection) -> pd.DataFrame:
    rows = conn.execute(
        f"select {', '.join(OVERRIDE_COLUMNS)} from identity.overrides order by 1, 2").fetchall()
    return pd.DataFrame(rows, columns=OVERRIDE_COLUMNS)


def read_retired_keys(conn: psycopg.Connection) -> list[str]:
    return [key for (key,) in conn.execute("select customer_key from identity.retired_keys")]


def record_override(conn: psycopg.Connection, record_a: str, record_b: str, *, decision: str,
                    decided_by: str, reason: str) -> tuple[str, str]:
    """Store (or replace) a steward's decision on a pair and close its open review rows."""
    if decision not in DECISIONS:
        raise ValueError(f"decision must be 'same' or 'different', not {decision!r}")
    if not decided_by.strip() or not reason.strip():
        raise ValueError("an override needs who decided and why")
    pair = canonical_pair(record_a, record_b)
    conn.execute(
        "insert into identity.overrides (record_a, record_b, decision, decided_by, reason)"
        " values (%s, %s, %s, %s, %s) on conflict (record_a, record_b) do update set"
        " decision = excluded.decision, decided_by = excluded.decided_by,"
        " reason = excluded.reason, decided_at = now()",
        (*pair, decision, decided_by, reason))
    conn.execute("update identity.review_queue set status = 'decided'"
                 " where record_a = %s and record_b = %s and status = 'open'", pair)
    return pair


def write_run(conn: psycopg.Connection, assignment: KeyAssignment, review: pd.DataFrame, *,
              run_id: str, model_version: str, as_of: datetime,
              standardised: pd.DataFrame | None = None,
              cluster_metrics: pd.DataFrame | None = None) -> dict[str, int]:
    """Write one identity run (call it in one transaction: readers see the old run or the new
    one): replace the record -> key mapping and, given ``standardised`` (columns
    ``standardise.DISPLAY_COLUMNS``), the records' standardised values and, given
    ``cluster_metrics`` (``graph.CLUSTER_METRIC_COLUMNS`` with ``customer_key``), the clusters'
    graph metrics; append the key events, add the retired keys, and replace this run's rows of
    the review queue. Key events and retirements are dated by the run's business time
    ``as_of``; a key's ``assigned_at`` is the wall clock at write, what freshness measures."""
    keys = assignment.keys
    if standardised is not None:
        replace_standardised_records(conn, standardised)
    conn.execute("delete from identity.customer_keys")
    assigned_at = datetime.now(UTC)
    with conn.cursor().copy(
        "copy identity.customer_keys (source, source_record_id, customer_key, cluster_size,"
        " model_version, assigned_at) from stdin"
    ) as copy:
        for row in keys[["source", "source_record_id", "customer_key", "cluster_size"]] \
                .itertuples(index=False):
            copy.write_row((*row, model_version, assigned_at))
    with conn.cursor().copy(
        "copy identity.key_events (run_id, occurred_at, event_type, customer_key,"
        " related_key, records, details) from stdin"
    ) as copy:
        for event in assignment.events.itertuples(index=False):
            copy.write_row((run_id, as_of, event.event_type, event.customer_key,
                            event.related_key, event.records, json.dumps(event.details)))
    with conn.cursor() as cur:
        cur.executemany(
            "insert into identity.retired_keys (customer_key, retired_at, merged_into)"
            " values (%s, %s, %s) on conflict (customer_key) do nothing",
            [(key, as_of, into)
             for key, into in assignment.retired.itertuples(index=False)])
    conn.execute("delete from identity.review_queue where run_id = %s", (run_id,))
    with conn.cursor().copy(
        "copy identity.review_queue (run_id, record_a, record_b, match_probability,"
        " fields_agreeing, fields_disagreeing, reason) from stdin"
    ) as copy:
        for pair in review.itertuples(index=False):
            copy.write_row((run_id, pair.record_a, pair.record_b, pair.match_probability,
                            json.dumps(pair.fields_agreeing),
                            json.dumps(pair.fields_disagreeing), pair.reason))
    if cluster_metrics is not None:
        conn.execute("delete from identity.cluster_metrics")
        with conn.cursor().copy(
            "copy identity.cluster_metrics (customer_key, records, links, density, bridges,"
            " review_reason, run_id) from stdin"
        ) as copy:
            for row in cluster_metrics.itertuples(index=False):
                copy.write_row((row.customer_key, int(row.records), int(row.links),
                                float(row.density), int(row.bridges),
                                None if pd.isna(row.review_reason) else row.review_reason,
                                run_id))
    # dbt reads these tables right after this run: plan it with their new statistics, not the
    # ones autovacuum would gather some time later (or none, on a new warehouse).
    conn.execute("analyze identity.customer_keys, identity.standardised_records,"
                 " identity.cluster_metrics")
    return {"records": len(keys), "events": len(assignment.events),
            "retired": len(assignment.retired), "review_queue": len(review),
            "cluster_metrics": 0 if cluster_metrics is None else len(cluster_metrics),
            "standardised_records": 0 if standardised is None else len(standardised)}


def replace_standardised_records(conn: psycopg.Connection, standardised: pd.DataFrame) -> None:
    """Replace identity.standardised_records with ``standardised`` (columns
    ``standardise.DISPLAY_COLUMNS``), in the caller's transaction."""
    conn.execute("delete from identity.standardised_records")
    frame = standardised[DISPLAY_COLUMNS].astype(object)
    with conn.cursor().copy(
        f"copy identity.standardised_records ({', '.join(DISPLAY_COLUMNS)}) from stdin"
    ) as copy:
        for row in frame.where(frame.notna(), None).itertuples(index=False):
            copy.write_row(row)


def models_dir() -> Path:
    return paths().identity_models


def current_model_path() -> Path:
    return models_dir() / CURRENT_MODEL


def save_as_current(model: dict) -> Path:
    """Keep every version (for audits and rollback) and point `current.json` at the newest."""
    versioned = save_model(model, models_dir() / f"model-{model['model_version']}.json")
    save_model(model, current_model_path())
    log.info("saved identity model %s to %s", model["model_version"], versioned)
    return versioned


def scoring_dir() -> Path:
    return paths().home / "identity" / "scoring"


# Each kind of state is a folder of its own (<kind>-<random>/), complete before the one-line
# pointer file <kind>.current is renamed to name it: a kill at any moment leaves the previous
# version or the new one, never a mix of both (stale pairs under new fingerprints).
SCORING_STATE = "state"
STANDARDISED = "standardised"
# Files of the layout before versioned folders; removed at the next write.
_UNVERSIONED_FILES = ("state.json", "fingerprints.parquet", "pairs.parquet", "standardised.json",
                      "standardised.parquet")


def _current_version(kind: str) -> Path | None:
    """The folder the pointer of ``kind`` names, or None (never written, or dropped)."""
    folder = scoring_dir()
    try:
        name = (folder / f"{kind}.current").read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    version = folder / name
    return version if name and version.is_dir() else None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_version(kind: str, frames: dict[str, pd.DataFrame], meta: dict) -> None:
    """Write the frames and meta.json into a new folder, flush it to disk, then switch the
    pointer of ``kind`` to it by one rename. The previous version is kept (a reader may still
    be on it); older ones and the unversioned files are removed."""
    root = private_dir(scoring_dir())
    previous = _current_version(kind)
    version = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=root))  # owner-only already
    for name, frame in frames.items():
        frame.to_parquet(version / f"{name}.parquet", index=False)
    (version / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    for written in (*version.iterdir(), version):
        if written.is_file():
            private_file(written)
        _fsync(written)
    pointer = root / f".{kind}.current.{version.name}"
    pointer.write_text(version.name, encoding="utf-8")
    private_file(pointer)
    _fsync(pointer)
    pointer.replace(root / f"{kind}.current")
    _fsync(root)
    for old in root.glob(f"{kind}-*"):
        if old not in (version, previous):
            shutil.rmtree(old, ignore_errors=True)
    for name in _UNVERSIONED_FILES:
        (root / name).unlink(missing_ok=True)


def read_scoring_state(model_version: str, as_of: datetime) -> IdentityState | None:
    """The previous run's fingerprints and scored pairs, or None when this run must re-score
    everything: no state, another model version or fingerprint, a full rebuild due, or an
    earlier interval."""
    folder = _current_version(SCORING_STATE)
    if folder is None:
        return None
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    rebuilt_at = datetime.fromisoformat(meta["rebuilt_at"])
    if (meta["model_version"] != model_version or as_of < rebuilt_at
            or meta.get("fingerprint_format") != FINGERPRINT_FORMAT
            or as_of - rebuilt_at >= FULL_REBUILD_EVERY):
        return None
    return IdentityState(
        model_version,
        pd.read_parquet(folder / "fingerprints.parquet"),
        pd.read_parquet(folder / "pairs.parquet"),
    )


def read_standardised_records(version: str) -> pd.DataFrame | None:
    """The previous run's ``standardise_reusing`` result, if it was made by ``version``."""
    folder = _current_version(STANDARDISED)
    if folder is None:
        return None
    if json.loads((folder / "meta.json").read_text(encoding="utf-8"))["version"] != version:
        return None
    return pd.read_parquet(folder / "standardised.parquet")


def write_standardised_records(frame: pd.DataFrame, version: str) -> None:
    _write_version(STANDARDISED, {"standardised": frame}, {"version": version})


def write_scoring_state(state: IdentityState, *, full_rebuild: bool, as_of: datetime) -> None:
    """Replace the stored state as one version (see ``_write_version``)."""
    rebuilt_at = as_of
    current = _current_version(SCORING_STATE)
    if not full_rebuild and current is not None:
        rebuilt_at = datetime.fromisoformat(
            json.loads((current / "meta.json").read_text(encoding="utf-8"))["rebuilt_at"])
    meta = {"model_version": state.model_version, "rebuilt_at": rebuilt_at.isoformat(),
            "fingerprint_format": FINGERPRINT_FORMAT}
    _write_version(SCORING_STATE, {"fingerprints": state.fingerprints, "pairs": state.pairs},
                   meta)


def current_scored_pairs() -> pd.DataFrame | None:
    """The scored pairs (``match_probability`` >= the pair floor) of the latest identity run,
    whatever its model version, or None before the first run: what reports draw from."""
    folder = _current_version(SCORING_STATE)
    return None if folder is None else pd.read_parquet(folder / "pairs.parquet")
