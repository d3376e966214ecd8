"""Pairwise scores by combinatorics must equal a brute-force count over all record pairs."""

from __future__ import annotations

import itertools
import random

import pandas as pd
import pytest

from onetoone.stages.identity.evaluation import household_false_pairs, pairwise_scores


def _brute_force(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict[str, int]:
    cluster = dict(zip(predicted["unique_id"], predicted["cluster_id"], strict=True))
    person = dict(zip(truth["unique_id"], truth["person_id"], strict=True))
    ids = sorted(set(cluster) & set(person))
    counts = {"predicted_pairs": 0, "true_pairs": 0, "true_positive_pairs": 0}
    for a, b in itertools.combinations(ids, 2):
        same_cluster, same_person = cluster[a] == cluster[b], person[a] == person[b]
        counts["predicted_pairs"] += same_cluster
        counts["true_pairs"] += same_person
        counts["true_positive_pairs"] += same_cluster and same_person
    return counts


@pytest.mark.parametrize("seed", range(5))
def test_matches_brute_force_on_random_input(seed: int):
    rng = random.Random(seed)
    ids = [f"r{i}" for i in range(60)]
    truth = pd.DataFrame({"unique_id": ids, "person_id": [rng.randrange(20) for _ in ids]})
    predicted = pd.DataFrame({"unique_id": ids, "cluster_id": [rng.randrange(25) for _ in ids]})
    # a record only one side knows is ignored
    predicted.loc[len(predicted)] = ["extra", 0]

    scores = pairwise_scores(predicted, truth)
    expected = _brute_force(predicted, truth)
    for name, value in expected.items():
        assert scores[name] == value
    assert scores["precision"] == pytest.approx(
        expected["true_positive_pairs"] / expected["predicted_pairs"]
    )
    assert scores["recall"] == pytest.approx(
        expected["true_positive_pairs"] / expected["true_pairs"]
    )
    p, r = scores["precision"], scores["recall"]
    assert scores["f1"] == pytest.approx(2 * p * r / (p + r))


def test_perfect_and_all_singletons():
    truth = pd.DataFrame({"unique_id": list("abcd"), "person_id": [1, 1, 2, 2]})
    perfect = pairwise_scores(truth.rename(columns={"person_id": "cluster_id"}), truth)
    assert (perfect["precision"], perfect["recall"], perfect["f1"]) == (1.0, 1.0, 1.0)
    singletons = pd.DataFrame({"unique_id": list("abcd"), "cluster_id": list("wxyz")})
    none = pairwise_scores(singletons, truth)
    assert none["predicted_pairs"] == 0 and none["precision"] == 1.0 and none["recall"] == 0.0


def test_household_false_pairs_counts_relatives_merged():
    truth = pd.DataFrame(
        {
            "unique_id": list("abcde"),
            "person_id": [1, 1, 2, 3, 4],
            "household_id": ["h", "h", "h", "h", "k"],
        }
    )
    # a, b (same person) and c (relative) merged; d (relative) apart; e elsewhere
    predicted = pd.DataFrame({"unique_id": list("abcde"), "cluster_id": [1, 1, 1, 2, 1]})
    assert household_false_pairs(predicted, truth) == 2  # (a, c) and (b, c)
