"""Pairwise accuracy of a clustering against ground truth, without materialising pairs.

Every count is a sum of ``n * (n - 1) / 2`` over group sizes: the pairs inside the predicted
clusters, inside the true persons, and inside their intersections (the true positives).
"""

from __future__ import annotations

import pandas as pd


def _pairs_within(frame: pd.DataFrame, keys: list[str]) -> int:
    sizes = frame.groupby(keys, sort=False).size().astype("int64")
    return int((sizes * (sizes - 1) // 2).sum())


def _joined(predicted: pd.DataFrame, truth: pd.DataFrame, truth_columns: list[str]) -> pd.DataFrame:
    """Records present in both frames (an unscored record cannot be judged)."""
    return predicted[["unique_id", "cluster_id"]].merge(
        truth[["unique_id", *truth_columns]], on="unique_id", how="inner", validate="one_to_one"
    )


def pairwise_scores(predicted: pd.DataFrame, truth: pd.DataFrame) -> dict[str, float | int]:
    """Precision, recall and F1 over record pairs.

    ``predicted``: ``unique_id, cluster_id``; ``truth``: ``unique_id, person_id``. An empty
    denominator scores 1.0 (no predicted pairs means no wrong ones).
    """
    joined = _joined(predicted, truth, ["person_id"])
    predicted_pairs = _pairs_within(joined, ["cluster_id"])
    true_pairs = _pairs_within(joined, ["person_id"])
    true_positives = _pairs_within(joined, ["cluster_id", "person_id"])
    precision = true_positives / predicted_pairs if predicted_pairs else 1.0
    recall = true_positives / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "true_pairs": true_pairs,
        "predicted_pairs": predicted_pairs,
        "true_positive_pairs": true_positives,
    }


def household_false_pairs(predicted: pd.DataFrame, truth: pd.DataFrame) -> int:
    """Predicted pairs joining two different people of the same household (chaining).

    ``truth`` needs ``unique_id, person_id, household_id``.
    """
    joined = _joined(predicted, truth, ["person_id", "household_id"])
    same_household = _pairs_within(joined, ["cluster_id", "household_id"])
    same_person = _pairs_within(joined, ["cluster_id", "household_id", "person_id"])
    return same_household - same_person
