"""Stable customer keys across identity runs.

Each new cluster inherits at most one previous key: the one most of its records had, provided
that key has not already gone to a cluster holding more of its records. So an unchanged or
growing customer keeps its key, in a merge the larger side's key survives, in a split the larger
part keeps it. Clusters left without a key get a fresh one derived from their smallest
``unique_id``; a fresh key is never one that was handed out before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import pandas as pd

KEY_PREFIX = "CUST-"
KEY_COLUMNS = ["source", "source_record_id", "customer_key", "cluster_size"]


def new_key(unique_id: str, attempt: int = 0) -> str:
    """Deterministic key for a cluster whose smallest record id is ``unique_id``."""
    seed = unique_id if attempt == 0 else f"{unique_id}#{attempt}"
    return KEY_PREFIX + hashlib.sha256(seed.encode()).hexdigest()[:12].upper()


def assign_customer_keys(
    clusters: pd.DataFrame,
    previous_keys: pd.DataFrame | None = None,
    retired_keys: Iterable[str] = (),
) -> pd.DataFrame:
    """Give every record a ``customer_key``; returns ``KEY_COLUMNS``, one row per record.

    ``clusters``: ``source, source_record_id, cluster_id`` (e.g. from ``linker.resolve``).
    ``previous_keys``: ``source, source_record_id, customer_key`` of the last run, or None.
    ``retired_keys``: keys given out in earlier runs that no record holds any more (merged
    away); they are never handed out again either.
    """
    records = clusters[["source", "source_record_id", "cluster_id"]].copy()
    records["unique_id"] = records["source"] + ":" + records["source_record_id"]
    records["cluster_size"] = records.groupby("cluster_id")["unique_id"].transform("size")

    if previous_keys is not None and len(previous_keys):
        previous = previous_keys[["source", "source_record_id", "customer_key"]]
        records = records.merge(
            previous, on=["source", "source_record_id"], how="left", validate="many_to_one"
        )
        used = set(previous["customer_key"]) | set(retired_keys)
    else:
        records["customer_key"] = None
        used = set(retired_keys)

    inherited = _inherit_keys(records)
    smallest_ids = records.groupby("cluster_id")["unique_id"].min()
    for cluster_id, smallest in smallest_ids.sort_values().items():
        if cluster_id not in inherited:
            attempt = 0
            while (key := new_key(smallest, attempt)) in used:
                attempt += 1
            inherited[cluster_id] = key
            used.add(key)

    records["customer_key"] = records["cluster_id"].map(inherited)
    return records[KEY_COLUMNS].reset_index(drop=True)


def _inherit_keys(records: pd.DataFrame) -> dict[object, str]:
    """cluster_id -> previous key, greedily by overlap (ties: the smaller key, then cluster)."""
    overlaps = (
        records.dropna(subset=["customer_key"])
        .groupby(["cluster_id", "customer_key"])
        .size()
        .rename("overlap")
        .reset_index()
    )
    if overlaps.empty:
        return {}
    overlaps["cluster_order"] = overlaps["cluster_id"].astype(str)
    overlaps = overlaps.sort_values(
        ["overlap", "customer_key", "cluster_order"], ascending=[False, True, True]
    )
    inherited: dict[object, str] = {}
    taken: set[str] = set()
    for cluster_id, key in zip(overlaps["cluster_id"], overlaps["customer_key"], strict=True):
        if cluster_id not in inherited and key not in taken:
            inherited[cluster_id] = key
            taken.add(key)
    return inherited
