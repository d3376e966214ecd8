"""Cluster graph metrics: chains held by one bridge and sparse clusters go to review."""

from __future__ import annotations

import duckdb
import pandas as pd
import splink.comparison_library as cl
from splink import DuckDBAPI, Linker, SettingsCreator

from onetoone.stages.identity.graph import cluster_graph_metrics


def _metrics(clusters: dict[str, list[str]], links: list[tuple[str, str, float]]):
    records = pd.DataFrame(
        [{"unique_id": uid, "cluster": cid} for cid, ids in clusters.items() for uid in ids])
    with duckdb.connect() as con:
        con.execute("create table records as select * from records")
        con.execute("create table scored_pairs (unique_id_l varchar, unique_id_r varchar,"
                    " match_weight double, match_probability double)")
        con.executemany("insert into scored_pairs values (?, ?, ?, ?)",
                        [(a, b, weight, 1 - 2 ** -weight) for a, b, weight in links])
        db_api = DuckDBAPI(con)
        linker = Linker(db_api.register("records"), SettingsCreator(
            link_type="dedupe_only", comparisons=[cl.ExactMatch("cluster")]), log_level=None)
        assigned = records.assign(cluster_id=lambda r: r.groupby("cluster")["unique_id"]
                                  .transform("min"))
        return cluster_graph_metrics(con, db_api, linker, assigned[["unique_id", "cluster_id"]],
                                     "scored_pairs", 0.95)


def test_two_groups_joined_by_one_link_are_sent_to_review():
    metrics, doubtful = _metrics(
        {"x": ["a1", "a2", "a3", "b1", "b2", "b3"], "y": ["c1", "c2"], "z": ["s"]},
        [("a1", "a2", 20), ("a1", "a3", 20), ("a2", "a3", 20),
         ("b1", "b2", 20), ("b1", "b3", 20), ("b2", "b3", 20),
         ("a3", "b1", 6), ("c1", "c2", 20)])
    chain = metrics.set_index("cluster_id").loc["a1"]
    assert (chain["records"], chain["links"], chain["bridges"]) == (6, 7, 1)
    assert chain["density"] == 7 / 15
    assert chain["review_reason"] == "bridge"
    assert doubtful[["unique_id_l", "unique_id_r", "reason"]].values.tolist() == [
        ["a3", "b1", "bridge"]]
    pair = metrics.set_index("cluster_id").loc["c1"]
    # one person's two records: its link is a bridge, but with nothing on either side
    assert (pair["records"], pair["bridges"]) == (2, 1) and pd.isna(pair["review_reason"])
    assert "s" not in set(metrics["cluster_id"])  # single records have no graph


def test_a_sparse_cluster_sends_its_weakest_link():
    # a ring of six: no bridge, but 6 of 15 possible links
    ring = ["r1", "r2", "r3", "r4", "r5", "r6"]
    links = [(a, b, 10 + i) for i, (a, b) in enumerate(zip(ring, ring[1:] + ring[:1], strict=True))]
    metrics, doubtful = _metrics({"ring": ring}, [(a, b, w) if a < b else (b, a, w)
                                                  for a, b, w in links])
    assert metrics["bridges"].tolist() == [0]
    assert metrics["review_reason"].tolist() == ["sparse"]
    assert metrics["density"].tolist() == [0.4]
    assert doubtful[["unique_id_l", "unique_id_r", "reason"]].values.tolist() == [
        ["r1", "r2", "sparse"]]


def test_a_dense_cluster_is_not_doubtful():
    ids = ["d1", "d2", "d3", "d4"]
    metrics, doubtful = _metrics(
        {"d": ids}, [(a, b, 15) for i, a in enumerate(ids) for b in ids[i + 1:]])
    assert metrics["review_reason"].isna().all() and doubtful.empty
    assert metrics["density"].tolist() == [1.0]
