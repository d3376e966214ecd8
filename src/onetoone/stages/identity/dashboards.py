"""Splink's own dashboards for data stewards, from the latest identity run: the comparison viewer
over the open review queue (what the doubtful pairs look like, comparison by comparison) and
cluster studio over the largest and the least dense customers (where a chain of links may hold
two people together). Both are single HTML files with their scripts inline (they open offline).

They show record values, since deciding an identity needs them: they are written private to the
owner (0600), and `forget` removes them (the next run writes them again without the person)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg
import pyarrow as pa

from onetoone.foundation.config import paths
from onetoone.stages.identity import store
from onetoone.stages.identity.linker import load_model, pair_scorer
from onetoone.stages.identity.review import open_review_queue
from onetoone.stages.identity.standardise import INPUT_FINGERPRINT, standardise_version

COMPARISON_VIEWER = "review_queue_comparison_viewer.html"
CLUSTER_STUDIO = "cluster_studio.html"
REVIEW_PAIRS_SHOWN = 200
CLUSTERS_SHOWN = 10  # of each kind: the largest, and the least dense of three records or more


@dataclass(frozen=True)
class StewardDashboards:
    comparison_viewer: Path | None  # None when the review queue is empty
    cluster_studio: Path | None  # None when no customer has more than one record
    clusters_shown: int


def steward_dashboards_dir() -> Path:
    """Beside the run report, in a folder of their own that only the owner may read."""
    return paths().home / "reports" / "stewards"


def remove_steward_dashboards() -> None:
    """Drop the dashboards (they hold record values); the next run writes them afresh."""
    for name in (COMPARISON_VIEWER, CLUSTER_STUDIO):
        (steward_dashboards_dir() / name).unlink(missing_ok=True)


def clusters_to_study(conn: psycopg.Connection, shown: int = CLUSTERS_SHOWN) -> list[str]:
    """The customer keys worth a steward's look, from the run's graph metrics
    (``identity.cluster_metrics``): the ``shown`` largest, then ``shown`` more of three records or
    more, the doubtful ones (a bridge, or sparse) first, then the least dense: a chain."""
    largest = [key for (key,) in conn.execute(
        "select customer_key from identity.cluster_metrics"
        " order by records desc, customer_key limit %s", (shown,))]
    chains = [key for (key,) in conn.execute(
        "select customer_key from identity.cluster_metrics"
        " where records >= 3 and not (customer_key = any(%s))"
        " order by review_reason is null, density, customer_key limit %s", (largest, shown))]
    return largest + chains


def write_steward_dashboards(conn: psycopg.Connection, out_dir: Path | None = None
                             ) -> StewardDashboards:
    """Write both dashboards for the latest identity run into ``out_dir`` (by default beside
    identity's state); a dashboard with nothing to show is not written (and an old one removed)."""
    out_dir = out_dir or steward_dashboards_dir()
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    model_path = store.current_model_path()
    standardised = store.read_standardised_records(standardise_version())
    if not model_path.exists() or standardised is None:
        for name in (COMPARISON_VIEWER, CLUSTER_STUDIO):
            (out_dir / name).unlink(missing_ok=True)
        return StewardDashboards(None, None, 0)
    records = standardised.drop(columns=INPUT_FINGERPRINT)
    keys = pd.DataFrame(conn.execute(
        "select source || ':' || source_record_id, customer_key from identity.customer_keys"
    ).fetchall(), columns=["unique_id", "customer_key"])
    review = open_review_queue(conn, limit=REVIEW_PAIRS_SHOWN)
    studied = clusters_to_study(conn)
    studied_keys = keys[keys["customer_key"].isin(studied)]

    with pair_scorer(records, load_model(model_path)) as (backend, scored):
        con, db_api, linker = backend.con, backend.db_api, backend.linker

        viewer = _written(out_dir / COMPARISON_VIEWER, None)
        if len(review):
            every = scored("review_records", set(review["record_a"]) | set(review["record_b"]))
            con.register("wanted_pairs", pa.Table.from_pandas(
                review[["record_a", "record_b"]], preserve_index=False))
            # a table, not a view: the viewer samples example rows by DuckDB's rowid
            con.execute(f"""
                create table __splink__df_predict as
                select p.* from {every.physical_name} p join wanted_pairs w
                  on (p.unique_id_l, p.unique_id_r) in ((w.record_a, w.record_b),
                                                        (w.record_b, w.record_a))""")
            linker.visualisations.comparison_viewer_dashboard(
                db_api.register("__splink__df_predict"), str(out_dir / COMPARISON_VIEWER),
                overwrite=True, num_example_rows=3)
            viewer = _written(out_dir / COMPARISON_VIEWER, out_dir / COMPARISON_VIEWER)

        studio = _written(out_dir / CLUSTER_STUDIO, None)
        if studied:
            within = scored("studied_records", set(studied_keys["unique_id"]))
            frame = within.as_pandas_dataframe()
            cluster_of = studied_keys.set_index("unique_id")["customer_key"]
            frame = frame[frame["unique_id_l"].map(cluster_of).values
                          == frame["unique_id_r"].map(cluster_of).values]
            predict = db_api.register(pa.Table.from_pandas(frame, preserve_index=False),
                                      table_name="studied_pairs")
            clustered = records.merge(studied_keys.rename(columns={"customer_key": "cluster_id"}),
                                      on="unique_id")
            clusters = db_api.register(pa.Table.from_pandas(clustered, preserve_index=False),
                                       table_name="studied_clusters")
            linker.visualisations.cluster_studio_dashboard(
                predict, clusters, str(out_dir / CLUSTER_STUDIO), sampling_method="by_cluster_id",
                cluster_ids=studied, overwrite=True)
            studio = _written(out_dir / CLUSTER_STUDIO, out_dir / CLUSTER_STUDIO)
    return StewardDashboards(viewer, studio, len(studied))


def _written(path: Path, result: Path | None) -> Path | None:
    """``result`` made private, or, when there is nothing to show, a stale ``path`` removed."""
    if result is None:
        path.unlink(missing_ok=True)
        return None
    os.chmod(result, 0o600)
    return result
