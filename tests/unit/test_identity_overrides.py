"""Steward overrides in the clustering, and the review queue's evidence, on hand-made pairs."""

from __future__ import annotations

import logging
import math

import pandas as pd
import pytest

from onetoone.stages.identity.overrides import canonical_pair, cluster_pairs
from onetoone.stages.identity.review import format_review_row, level_evidence, review_queue

A, B, C, D, E = "erp:A", "erp:B", "web:C", "web:D", "callcenter:E"


def _pairs(*edges: tuple[str, str, float]) -> pd.DataFrame:
    """Edges given by match probability, as the match weights clustering cuts on."""
    weighted = [(a, b, math.log2(p / (1 - p))) for a, b, p in edges]
    return pd.DataFrame(weighted, columns=["unique_id_l", "unique_id_r", "match_weight"])


def _overrides(*rows: tuple[str, str, str]) -> pd.DataFrame:
    pairs = [(*canonical_pair(a, b), decision, "steward", "checked") for a, b, decision in rows]
    return pd.DataFrame(pairs, columns=["record_a", "record_b", "decision", "decided_by", "reason"])


def _groups(clusters: pd.DataFrame) -> set[frozenset[str]]:
    return {frozenset(g) for g in clusters.groupby("cluster_id")["unique_id"].agg(list)}


def test_without_overrides_clusters_are_connected_components():
    clusters = cluster_pairs([A, B, C, D, E], _pairs((A, B, 0.99), (C, B, 0.97)))
    assert _groups(clusters) == {frozenset({A, B, C}), frozenset({D}), frozenset({E})}
    assert clusters.set_index("unique_id").loc[C, "cluster_id"] == A  # the smallest id


def test_same_override_links_records_the_model_kept_apart():
    clusters = cluster_pairs([A, B, C, D], _pairs((A, B, 0.99)), _overrides((D, A, "same")))
    assert _groups(clusters) == {frozenset({A, B, D}), frozenset({C})}


def test_different_override_drops_the_direct_edge(caplog):
    with caplog.at_level(logging.INFO, logger="onetoone.stages.identity.overrides"):
        clusters = cluster_pairs([A, B, C], _pairs((B, A, 0.999), (C, B, 0.9)),
                                 _overrides((C, B, "different")))
    assert _groups(clusters) == {frozenset({A, B}), frozenset({C})}
    assert caplog.messages == []  # dropped before clustering: nothing left to cut


def test_different_override_cuts_the_weakest_edge_of_a_chain():
    pairs = _pairs((A, B, 0.99), (B, C, 0.96))
    clusters = cluster_pairs([A, B, C], pairs, _overrides((A, C, "different")))
    assert _groups(clusters) == {frozenset({A, B}), frozenset({C})}
    stronger_right = _pairs((A, B, 0.96), (B, C, 0.99))
    clusters = cluster_pairs([A, B, C], stronger_right, _overrides((C, A, "different")))
    assert _groups(clusters) == {frozenset({A}), frozenset({B, C})}


def test_different_override_cuts_a_dense_cluster_where_it_is_weakest():
    # a tight trio A, B, D and a pair C, E, joined by one link D - C: that link goes, not A's
    pairs = _pairs((A, B, 0.999), (A, D, 0.999), (B, D, 0.999), (D, C, 0.97), (C, E, 0.999))
    clusters = cluster_pairs([A, B, C, D, E], pairs, _overrides((A, E, "different")))
    assert _groups(clusters) == {frozenset({A, B, D}), frozenset({C, E})}


def test_different_override_cuts_every_path_and_never_a_same_override():
    # two routes from A to C (through B and through D); the A-B link is a steward's "same"
    pairs = _pairs((A, B, 0.95), (B, C, 0.99), (A, D, 0.98), (D, C, 0.97), (C, E, 0.99))
    overrides = _overrides((A, C, "different"), (A, B, "same"))
    clusters = cluster_pairs([A, B, C, D, E], pairs, overrides)
    assert _groups(clusters) == {frozenset({A, B, D}), frozenset({C, E})}


def test_contradicting_overrides_keep_the_same_links(caplog):
    overrides = _overrides((A, B, "same"), (B, C, "same"), (A, C, "different"))
    clusters = cluster_pairs([A, B, C], _pairs(), overrides)
    assert _groups(clusters) == {frozenset({A, B, C})}
    assert "overrides contradict" in caplog.text


def test_overrides_on_unknown_records_are_ignored():
    clusters = cluster_pairs([A, B], _pairs((A, B, 0.99)), _overrides(("erp:GONE", A, "same")))
    assert _groups(clusters) == {frozenset({A, B})}


def test_canonical_pair_orders_and_validates():
    assert canonical_pair(C, A) == (A, C)
    assert canonical_pair(A, C) == (A, C)
    # the source ends at the first colon: a record id may hold colons, even end in one
    assert canonical_pair("web:acc:", A) == (A, "web:acc:")
    with pytest.raises(ValueError, match="^'erp:A' is paired with itself$"):
        canonical_pair(A, A)
    with pytest.raises(ValueError, match="^'A' is not source:source_record_id$"):
        canonical_pair("A", B)


MODEL = {"splink_settings": {"comparisons": [
    {"output_column_name": "name", "comparison_levels": [
        {"sql_condition": "null", "is_null_level": True},
        {"label_for_charts": "Exact", "m_probability": 0.8, "u_probability": 0.01},
        {"label_for_charts": "Surname only", "m_probability": 0.05, "u_probability": 0.2},
        {"label_for_charts": "Close", "m_probability": 0.1, "u_probability": 0.09},
        {"label_for_charts": "Else", "m_probability": 0.05, "u_probability": 0.7}]},
    {"output_column_name": "birth_date", "comparison_levels": [
        {"sql_condition": "null", "is_null_level": True},
        {"label_for_charts": "Exact", "m_probability": 0.9, "u_probability": 0.01},
        {"label_for_charts": "Else", "m_probability": 0.1, "u_probability": 0.99}]},
]}}  # fmt: skip


def test_level_evidence_numbers_levels_like_splink():
    evidence = level_evidence(MODEL)
    assert [evidence["name"][g][0] for g in (3, 2, 1, 0)] == ["Exact", "Surname only", "Close",
                                                              "Else"]
    assert evidence["birth_date"][1][1] > 0 > evidence["birth_date"][0][1]


def test_review_queue_takes_the_uncertain_band_with_evidence_for_and_against():
    pairs = pd.DataFrame(
        [(B, A, 0.7, 3, 0), (A, C, 0.96, 3, 1), (A, D, 0.3, 0, 0), (C, D, 0.5, 2, -1),
         (D, E, 0.9, 3, 1)],
        columns=["unique_id_l", "unique_id_r", "match_probability", "gamma_name",
                 "gamma_birth_date"])  # fmt: skip
    queue = review_queue(pairs, MODEL, _overrides((D, E, "different")))
    assert list(queue[["record_a", "record_b"]].itertuples(index=False, name=None)) == [
        (A, B), (C, D)]
    first, second = queue.to_dict("records")
    assert first["fields_agreeing"] == {"name": "Exact"}
    assert first["fields_disagreeing"] == {"birth_date": "Else"}
    # a level weighing against the match counts as disagreeing; a null comparison as neither
    assert second["fields_agreeing"] == {} and second["fields_disagreeing"] == {
        "name": "Surname only"}


def test_review_queue_adds_the_doubtful_links_of_chained_clusters_with_their_reason():
    pairs = pd.DataFrame(
        [(B, A, 0.7, 3, 0), (A, C, 0.99, 3, 1), (C, D, 0.98, 3, 1)],
        columns=["unique_id_l", "unique_id_r", "match_probability", "gamma_name",
                 "gamma_birth_date"])  # fmt: skip
    doubtful = pd.DataFrame([(C, A, A, "bridge")],
                            columns=["unique_id_l", "unique_id_r", "cluster_id", "reason"])
    queue = review_queue(pairs, MODEL, doubtful_links=doubtful)
    assert list(queue[["record_a", "record_b", "reason"]].itertuples(index=False, name=None)) \
        == [(A, C, "bridge"), (A, B, "uncertain")]
    # once decided by a steward, a doubtful link leaves the queue like any pair
    decided = review_queue(pairs, MODEL, _overrides((A, C, "same")), doubtful_links=doubtful)
    assert decided["reason"].tolist() == ["uncertain"]


def test_review_row_says_why_a_linked_pair_is_in_the_queue():
    row = pd.Series({"record_a": A, "record_b": C, "match_probability": 0.99,
                     "fields_agreeing": {"name": "Exact"}, "fields_disagreeing": {},
                     "reason": "bridge"})
    doubtful, evidence_for, _ = format_review_row(row)
    assert doubtful.endswith("(bridge of a doubtful cluster)")
    assert evidence_for.split() == ["for", "name:", "Exact"]
    uncertain = format_review_row(row.replace({"bridge": "uncertain"}))[0]
    assert uncertain == f"{A}  {C}  probability 0.990"


def _weighted(*edges: tuple[str, str, float]) -> pd.DataFrame:
    """Edges given by match weight (log2 odds) directly."""
    return pd.DataFrame(edges, columns=["unique_id_l", "unique_id_r", "match_weight"])


def test_a_cut_is_logged_naming_the_link_and_the_pair_kept_apart(caplog):
    pairs = _weighted((A, B, 6.5), (B, C, 4.25))
    with caplog.at_level(logging.INFO, logger="onetoone.stages.identity.overrides"):
        cluster_pairs([A, B, C], pairs, _overrides((A, C, "different")))
    assert caplog.messages == [
        f"override: cut {B} - {C} (weight 4.25) to keep {A} and {C} apart"]


def test_contradicting_overrides_are_named_and_later_pairs_are_still_cut(caplog):
    F, G = "web:F", "web:G"
    # A-B-C joined by "same" overrides but A, C "different": contradictory, left joined.
    # D-F-G is a scored chain with D, G "different": its weakest link goes all the same.
    overrides = _overrides((A, B, "same"), (B, C, "same"), (A, C, "different"),
                           (D, G, "different"))
    pairs = _weighted((D, F, 9.0), (F, G, 2.0))
    with caplog.at_level(logging.WARNING):
        clusters = cluster_pairs([A, B, C, D, F, G], pairs, overrides)
    assert _groups(clusters) == {frozenset({A, B, C}), frozenset({D, F}), frozenset({G})}
    assert caplog.messages == [
        f"overrides contradict: {A} and {C} are 'different' but joined by 'same' overrides"]


def test_a_different_pair_already_apart_does_not_stop_the_next_cut():
    F, G = "web:F", "web:G"
    # E and A (first in id order) are in no common cluster; D-F-G still needs its cut
    overrides = _overrides((E, A, "different"), (D, G, "different"))
    clusters = cluster_pairs([A, D, E, F, G], _weighted((D, F, 9.0), (F, G, 2.0)), overrides)
    assert _groups(clusters) == {frozenset({A}), frozenset({E}), frozenset({D, F}),
                                 frozenset({G})}


def test_a_different_override_of_an_unknown_record_is_ignored():
    clusters = cluster_pairs([A, B, C], _weighted((A, B, 5.0), (B, C, 5.0)),
                             _overrides((A, "erp:GONE", "different")))
    assert _groups(clusters) == {frozenset({A, B, C})}


def test_links_with_no_evidence_still_cost_something_to_cut():
    P, Q, R, S, T = "erp:P", "erp:Q", "erp:R", "erp:S", "erp:T"
    # P reaches S through two links of negative weight (each costs the floor, 1 millibit);
    # S-T has 3 millibits. Keeping P and T apart, cutting P's two links (2) is cheapest.
    pairs = _weighted((P, Q, -1.0), (P, R, -1.0), (Q, S, 10.0), (R, S, 10.0), (S, T, 0.003))
    clusters = cluster_pairs([P, Q, R, S, T], pairs, _overrides((P, T, "different")))
    assert _groups(clusters) == {frozenset({P}), frozenset({Q, R, S, T})}


def test_one_scored_link_beside_a_same_override_is_a_cut_not_a_contradiction(caplog):
    # A = B by a steward, B - C scored, A and C different: the scored link is the whole cut
    with caplog.at_level(logging.WARNING):
        clusters = cluster_pairs([A, B, C], _weighted((B, C, 3.0)),
                                 _overrides((A, B, "same"), (A, C, "different")))
    assert _groups(clusters) == {frozenset({A, B}), frozenset({C})}
    assert caplog.messages == []


def test_a_cluster_whose_evidence_overflows_the_flow_solver_is_refused_by_name():
    # capacities are millibits in int32 max-flow, both directions: 2 x 1e9 still fits ...
    fits = _weighted((A, B, 5e5), (B, C, 5e5))
    clusters = cluster_pairs([A, B, C], fits, _overrides((A, C, "different")))
    assert len(_groups(clusters)) == 2
    # ... 2 x 1.1e9 does not, and the error names the cluster instead of a wrong cut
    too_large = _weighted((A, B, 5.5e5), (B, C, 5.5e5))
    with pytest.raises(ValueError, match=rf"^cluster of {A} too large to cut \(3 records\)$"):
        cluster_pairs([A, B, C], too_large, _overrides((A, C, "different")))
