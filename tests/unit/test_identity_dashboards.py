"""Which customers cluster studio shows a steward: the largest, then the least dense (chains)."""

from __future__ import annotations

import pandas as pd

from onetoone.stages.identity.dashboards import clusters_to_study


def _keys(clusters: dict[str, list[str]]) -> pd.DataFrame:
    return pd.DataFrame([(record, key) for key, records in clusters.items() for record in records],
                        columns=["unique_id", "customer_key"])


def _pairs(*links: tuple[str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(links, columns=["unique_id_l", "unique_id_r", "match_probability"])


def test_largest_first_then_the_chains_and_never_singletons():
    keys = _keys({"BIG": ["b1", "b2", "b3", "b4", "b5"], "TRIANGLE": ["t1", "t2", "t3"],
                  "CHAIN": ["c1", "c2", "c3", "c4"], "PAIR": ["p1", "p2"], "ALONE": ["a1"]})
    pairs = _pairs(
        *[(f"b{i}", f"b{j}", 0.99) for i in range(1, 6) for j in range(i + 1, 6)],
        ("t1", "t2", 0.99), ("t2", "t3", 0.99), ("t1", "t3", 0.97),
        ("c1", "c2", 0.99), ("c2", "c3", 0.96), ("c3", "c4", 0.99), ("c1", "c4", 0.50),
        ("p1", "p2", 0.99), ("a1", "b1", 0.40))
    assert clusters_to_study(keys, pairs, shown=1) == ["BIG", "CHAIN"]
    assert clusters_to_study(keys, pairs, shown=2) == ["BIG", "CHAIN", "TRIANGLE"]
    assert "ALONE" not in clusters_to_study(keys, pairs, shown=10)


def test_pairs_across_customers_do_not_count_as_links_inside_one():
    keys = _keys({"A": ["a1", "a2", "a3"], "B": ["b1", "b2", "b3"]})
    pairs = _pairs(("a1", "a2", 0.99), ("a2", "a3", 0.99), ("a1", "a3", 0.99),
                   ("b1", "a1", 0.99), ("b1", "b2", 0.99), ("b2", "b3", 0.99))
    assert clusters_to_study(keys, pairs, shown=1) == ["A", "B"]


def test_nobody_to_study_without_a_cluster_of_two():
    assert clusters_to_study(_keys({"A": ["a1"], "B": ["b1"]}), _pairs()) == []
