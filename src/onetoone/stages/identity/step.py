"""The identity step of the daily run, in one place: the pipeline, the training DAG and the
benchmarks call these rather than repeating the choreography.

``resolve_records`` is the core (standardise what changed, score what changed, cluster under the
overrides, keep the state for the next run); ``identify`` adds what the warehouse keeps: stable
keys, key events and the review queue, written in the caller's transaction.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
import psycopg

from onetoone.stages.identity import store
from onetoone.stages.identity.backends import configured_backend
from onetoone.stages.identity.keys import KeyAssignment, assign_keys, keep_erased_records
from onetoone.stages.identity.linker import (
    IncrementalRun,
    Resolution,
    explain_links,
    load_model,
    resolve_incremental,
    train,
)
from onetoone.stages.identity.lookup import LookupIndex, prepare_lookup
from onetoone.stages.identity.review import REVIEW_LOWER, review_queue
from onetoone.stages.identity.standardise import (
    INPUT_FINGERPRINT,
    display_values,
    standardise,
    standardise_reusing,
    standardise_version,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ResolvedRecords:
    """One run of the identity core, with what each part cost."""

    run: IncrementalRun
    standardised: pd.DataFrame  # every record's standardised values (and input fingerprint)
    incremental: bool
    standardise_seconds: float
    score_seconds: float


def train_current_model(conn: psycopg.Connection) -> dict:
    """Train the Splink model on the current records and make it the one scoring uses."""
    records = standardise(store.read_records(conn))
    model = train(records)
    path = store.save_as_current(model)
    return {"model_version": model["model_version"], "records": len(records), "path": str(path)}


def resolve_records(records: pd.DataFrame, model: dict, *, as_of: datetime,
                    overrides: pd.DataFrame | None = None,
                    incremental: bool = True) -> ResolvedRecords:
    """Standardise and score only what changed since the stored state (when it is usable and
    ``incremental``), cluster, and store the new state."""
    started = time.perf_counter()
    previous = store.read_scoring_state(model["model_version"], as_of) if incremental else None
    # a full rebuild standardises every record again too
    version = standardise_version()
    standardised = standardise_reusing(
        records, None if previous is None else store.read_standardised_records(version))
    store.write_standardised_records(standardised, version)
    standardised_at = time.perf_counter()
    run = resolve_incremental(standardised.drop(columns=INPUT_FINGERPRINT), model, previous,
                              overrides=overrides, keep_pairs_from=REVIEW_LOWER,
                              backend=configured_backend())
    store.write_scoring_state(run.state, full_rebuild=previous is None, as_of=as_of)
    return ResolvedRecords(run, standardised, previous is not None, standardised_at - started,
                           time.perf_counter() - standardised_at)


def identify(conn: psycopg.Connection, *, run_id: str, as_of: datetime) -> dict:
    """Score the customer records with the current model, cluster under the steward overrides,
    assign stable keys, and record the key events and the review queue of uncertain pairs.

    Only new and changed records are scored when the previous run's scores are usable; a full
    re-scoring happens on a new model and at least every ``store.FULL_REBUILD_EVERY``. The first
    run on a new warehouse has no model yet: it trains one (and says so); afterwards the
    training DAG retrains on demand."""
    if not store.current_model_path().exists():
        log.warning("no identity model yet: training one on this run's records")
        train_current_model(conn)
    model = load_model(store.current_model_path())
    overrides = store.read_overrides(conn)
    source_records = store.read_records(conn)
    resolved = resolve_records(source_records, model, as_of=as_of, overrides=overrides)
    resolution = resolved.run.resolution
    # Forgotten people's records were left out of the records (store.read_records): they keep
    # the key they had, which nobody else may get.
    erased = store.read_erased_keys(conn)
    assignment = keep_erased_records(
        assign_keys(resolution.clusters, store.read_previous_keys(conn),
                    [*store.read_retired_keys(conn), *erased["customer_key"].unique()]),
        erased)
    review = review_queue(resolution.pairs, model, overrides,
                          doubtful_links=resolution.doubtful_links)
    written = store.write_run(conn, assignment, review, run_id=run_id,
                              model_version=model["model_version"], as_of=as_of,
                              standardised=display_values(source_records, resolved.standardised),
                              cluster_metrics=_keyed(resolution, assignment))
    keys = assignment.keys
    events = assignment.events["event_type"].value_counts().sort_index()
    result = {"records": written["records"], "customers": int(keys["customer_key"].nunique()),
              "model_version": model["model_version"],
              "largest_cluster": int(keys["cluster_size"].max()) if len(keys) else 0,
              "key_events": {kind: int(n) for kind, n in events.items()},
              "overrides": len(overrides), "review_queue": written["review_queue"],
              "doubtful_clusters": int(resolution.cluster_metrics["review_reason"].notna().sum())
              if resolution.cluster_metrics is not None else 0,
              "scoring": "incremental" if resolved.incremental else "full",
              "records_scored": resolved.run.records_scored,
              "pairs_carried_over": resolved.run.pairs_kept}
    log.info("identity: %s", result)
    return result


def _keyed(resolution: Resolution, assignment: KeyAssignment) -> pd.DataFrame | None:
    """The clusters' graph metrics under their customer keys (a cluster is one key)."""
    if resolution.cluster_metrics is None:
        return None
    keys = assignment.keys.assign(unique_id=assignment.keys["source"] + ":"
                                  + assignment.keys["source_record_id"])
    key_of = resolution.clusters[["unique_id", "cluster_id"]].merge(
        keys[["unique_id", "customer_key"]], on="unique_id").drop_duplicates("cluster_id")
    return resolution.cluster_metrics.merge(key_of[["cluster_id", "customer_key"]],
                                            on="cluster_id")


class NothingToExplain(LookupError):
    """No identity run of this code version yet, or no such customer key."""


def explain_customer(conn: psycopg.Connection, customer_key: str) -> tuple[list[str], pd.DataFrame]:
    """A customer's source records and why they are together: every pair of them scored by the
    current model with each comparison's match weight (``linker.explain_links``)."""
    model_path = store.current_model_path()
    standardised = store.read_standardised_records(standardise_version())
    if not model_path.exists() or standardised is None:
        raise NothingToExplain("no identity run with this version of the code yet (no current "
                               "model or standardised records); run the identity step first")
    ids = [f"{source}:{record}" for source, record in conn.execute(
        "select source, source_record_id from identity.customer_keys"
        " where customer_key = %s order by 1, 2", (customer_key,))]
    if not ids:
        raise NothingToExplain(f"no customer key {customer_key!r}")
    return ids, explain_links(standardised.drop(columns=INPUT_FINGERPRINT),
                              load_model(model_path), ids)


class NoLookupIndex(LookupError):
    """No identity run of this code version yet: nothing to look contacts up in."""


def lookup_index(conn: psycopg.Connection) -> LookupIndex:
    """The front line's lookup over the latest identity run: its current model, the
    standardised records it scored (the state folder) and their customer keys."""
    model_path = store.current_model_path()
    standardised = store.read_standardised_records(standardise_version())
    if not model_path.exists() or standardised is None:
        raise NoLookupIndex("no identity run with this version of the code yet (no current "
                            "model or standardised records); run the identity step first")
    keys = pd.DataFrame(conn.execute(
        "select source || ':' || source_record_id, customer_key from identity.customer_keys"
    ).fetchall(), columns=["unique_id", "customer_key"])
    return prepare_lookup(standardised.drop(columns=INPUT_FINGERPRINT), keys,
                          load_model(model_path))
