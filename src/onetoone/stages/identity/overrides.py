"""Steward overrides ("these two records are / are not the same customer") and the clustering
that honours them on every run.

Records are named ``source:source_record_id`` (the ``unique_id`` of ``standardise``); a pair is
stored in canonical order, ``record_a < record_b``.

Clustering (``cluster_pairs``) is connected components over the scored pairs at or above the
threshold, with the overrides applied to the edge list first:

1. ``different`` pairs lose their direct edge; ``same`` pairs gain one that is never cut.
2. A ``different`` pair still in one component is connected through a chain. Its component is
   cut in two by a minimum cut between the two records (max-flow, scipy), each edge weighing its
   match weight (log2 odds, the evidence that it is a match): the cheapest set of weakest links
   that separates them, so a chain loses its weakest edge and a dense cluster loses the few
   links it has to the other side. Only components violating an override are touched; pairs are
   handled in sorted order, so the result is deterministic.
3. ``same`` edges weigh more than every other edge together, so they are never cut; if a cut
   would need one, the overrides contradict each other: the pair stays together and a warning
   names it.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterable

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, maximum_flow

log = logging.getLogger(__name__)

DECISIONS = ("same", "different")
OVERRIDE_COLUMNS = ["record_a", "record_b", "decision", "decided_by", "reason"]
PAIR_COLUMNS = ["unique_id_l", "unique_id_r", "match_weight"]
_NEVER_CUT = float("inf")


def canonical_pair(record_a: str, record_b: str) -> tuple[str, str]:
    """The pair in stored order; refuses a record paired with itself or a malformed name."""
    for record in (record_a, record_b):
        source, _, record_id = record.partition(":")
        if not source or not record_id:
            raise ValueError(f"{record!r} is not source:source_record_id")
    if record_a == record_b:
        raise ValueError(f"{record_a!r} is paired with itself")
    return (record_a, record_b) if record_a < record_b else (record_b, record_a)


def empty_overrides() -> pd.DataFrame:
    return pd.DataFrame(columns=OVERRIDE_COLUMNS)


def pair_keys(frame: pd.DataFrame, left: str, right: str) -> pd.Series:
    """One ``a|b`` string per row in canonical order, to match pairs against overrides."""
    a, b = frame[left].astype(str), frame[right].astype(str)
    return a.where(a < b, b) + "|" + b.where(a < b, a)


def cluster_pairs(
    unique_ids: Iterable[str], pairs: pd.DataFrame, overrides: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``unique_id, cluster_id`` for every record: components of ``pairs`` under the overrides.

    ``pairs``: the edges to cluster on (``PAIR_COLUMNS``, already filtered at the threshold).
    ``cluster_id`` is the smallest ``unique_id`` of the cluster. Overrides of records not among
    ``unique_ids`` wait for them.
    """
    ids = pd.Index(sorted(set(unique_ids)), name="unique_id")
    overrides = empty_overrides() if overrides is None else overrides
    position_a = ids.get_indexer(overrides["record_a"])
    position_b = ids.get_indexer(overrides["record_b"])
    found = (position_a >= 0) & (position_b >= 0)
    positions = np.column_stack([position_a, position_b])
    decision = overrides["decision"].to_numpy()
    smallest = cluster_edges(
        ids, ids.get_indexer(pairs["unique_id_l"]), ids.get_indexer(pairs["unique_id_r"]),
        pairs["match_weight"].to_numpy(dtype=float),
        positions[found & (decision == "same")], positions[found & (decision == "different")])
    return pd.DataFrame({"unique_id": ids, "cluster_id": ids.to_numpy()[smallest]})


def cluster_edges(ids: pd.Index, left: np.ndarray, right: np.ndarray,
                  weight: np.ndarray, same: np.ndarray, different: np.ndarray) -> np.ndarray:
    """``cluster_pairs`` on positions, so that a million records stay in numpy: ``ids`` sorted
    and unique (named in log lines only); an edge joins positions ``left[i]`` and ``right[i]``
    with ``weight[i]`` (match weight); ``same`` and ``different`` are (n, 2) position pairs.
    Returns, per position, the position of the smallest id of its cluster."""
    size = len(ids)
    left, right = np.asarray(left, dtype=np.int64), np.asarray(right, dtype=np.int64)
    edge_low, edge_high = np.minimum(left, right), np.maximum(left, right)
    apart_low, apart_high = different.min(axis=1), different.max(axis=1)
    keep = ~np.isin(edge_low * size + edge_high, apart_low * size + apart_high)
    edge_low = np.concatenate([edge_low[keep], same.min(axis=1)])
    edge_high = np.concatenate([edge_high[keep], same.max(axis=1)])
    weight = np.concatenate([np.asarray(weight, dtype=float)[keep],
                             np.full(len(same), _NEVER_CUT)])
    labels = _components(size, edge_low, edge_high)
    apart = sorted(set(zip(apart_low.tolist(), apart_high.tolist(), strict=True)))
    violated = sorted({labels[a] for a, b in apart if labels[a] == labels[b]})
    if violated:
        inside = np.isin(labels[edge_low], violated)
        weights: dict[tuple[int, int], float] = {}
        for u, v, w in zip(edge_low[inside].tolist(), edge_high[inside].tolist(),
                           weight[inside].tolist(), strict=True):
            weights[(u, v)] = max(w, weights.get((u, v), w))  # a "same" edge outweighs a score
        _cut_apart(weights, apart, ids)
        kept = np.array(sorted(weights), dtype=np.int64).reshape(-1, 2)
        edge_low = np.concatenate([edge_low[~inside], kept[:, 0]])
        edge_high = np.concatenate([edge_high[~inside], kept[:, 1]])
        labels = _components(size, edge_low, edge_high)
    # positions are in id order, so a component's first position is its smallest id
    _, first = np.unique(labels, return_index=True)
    return first[labels]


def _components(size: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    graph = coo_matrix((np.ones(len(left)), (left, right)), shape=(size, size))
    return connected_components(graph, directed=False)[1]


def _cut_apart(weights: dict[tuple[int, int], float], apart: list[tuple[int, int]],
               ids: pd.Index) -> None:
    """Remove from ``weights`` (keyed ``(low, high)`` index) a minimum cut between each pair to
    keep apart that is still connected."""
    for a, b in apart:
        component = _reachable(weights, a)
        if b not in component:
            continue
        nodes = sorted(component)
        position = {node: i for i, node in enumerate(nodes)}
        edges = sorted(e for e in weights if e[0] in position)
        finite = [weights[e] for e in edges if weights[e] != _NEVER_CUT]
        never = int(sum(_capacity(w) for w in finite)) + 1  # more than cutting every other edge
        capacity = np.array([never if weights[e] == _NEVER_CUT else _capacity(weights[e])
                             for e in edges], dtype=np.int64)
        if capacity.sum() * 2 >= np.iinfo(np.int32).max:
            raise ValueError(f"cluster of {ids[a]} too large to cut ({len(nodes)} records)")
        left = np.array([position[u] for u, _ in edges], dtype=np.int32)
        right = np.array([position[v] for _, v in edges], dtype=np.int32)
        graph = csr_matrix(
            (np.concatenate([capacity, capacity]).astype(np.int32),
             (np.concatenate([left, right]), np.concatenate([right, left]))),
            shape=(len(nodes), len(nodes)),
        )
        flow = maximum_flow(graph, position[a], position[b])
        if flow.flow_value >= never:
            log.warning("overrides contradict: %s and %s are 'different' but joined by"
                        " 'same' overrides", ids[a], ids[b])
            continue
        residual = (graph - flow.flow).tocoo()
        open_edges = {(nodes[u], nodes[v]): 1.0 for u, v, r in
                      zip(residual.row, residual.col, residual.data, strict=True) if r > 0}
        source_side = _reachable(open_edges, a, directed=True)
        for edge in edges:
            if (edge[0] in source_side) != (edge[1] in source_side):
                log.info("override: cut %s - %s (weight %.2f) to keep %s and %s apart",
                         ids[edge[0]], ids[edge[1]], weights[edge], ids[a], ids[b])
                del weights[edge]


def _capacity(match_weight: float) -> int:
    """Integer capacity for max-flow: the pair's evidence in millibits, at least 1."""
    return max(1, round(match_weight * 1000))


def _reachable(edges: Iterable[tuple[int, int]], start: int, directed: bool = False) -> set[int]:
    adjacency: dict[int, list[int]] = {}
    for u, v in edges:
        adjacency.setdefault(u, []).append(v)
        if not directed:
            adjacency.setdefault(v, []).append(u)
    seen = {start}
    queue = deque([start])
    while queue:
        for neighbour in adjacency.get(queue.popleft(), ()):
            if neighbour not in seen:
                seen.add(neighbour)
                queue.append(neighbour)
    return seen
