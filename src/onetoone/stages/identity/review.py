"""The review queue: pairs the model is unsure about, with the evidence for and against, so that
stewards can decide them (their decisions become overrides, see ``overrides``).

A pair is uncertain when ``REVIEW_LOWER <= match_probability < REVIEW_UPPER`` (the clustering
threshold: above it the pair is linked anyway). Links above the threshold that hold a doubtful
cluster together (a bridge between two groups, the weakest link of a sparse cluster; see
``graph``) are queued too, with that ``reason``. Pairs a steward already decided are left out.

Evidence per comparison comes from the pair's gamma (the comparison level it reached) and that
level's match weight in the model, log2(m/u): a level weighing at least ``NEUTRAL_WEIGHT`` bits
for the match is a field agreeing, one weighing that much against it a field disagreeing, and
null or near-neutral levels are neither. This is "top level vs else level" generalised to the
intermediate levels, e.g. "Surname in common, given name differs" counts against (relatives).
Each field is stored with the label of its level, so stewards see what agreed, not just where.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from onetoone.stages.identity.linker import DEFAULT_THRESHOLD
from onetoone.stages.identity.overrides import pair_keys

REVIEW_LOWER = 0.5
REVIEW_UPPER = DEFAULT_THRESHOLD
NEUTRAL_WEIGHT = 0.5
REVIEW_COLUMNS = [
    "record_a",
    "record_b",
    "match_probability",
    "fields_agreeing",
    "fields_disagreeing",
    "reason",
]
UNCERTAIN = "uncertain"


def level_evidence(model: dict[str, Any]) -> dict[str, dict[int, tuple[str, float]]]:
    """comparison -> gamma -> (level label, match weight) of the trained model.

    Splink numbers a comparison's non-null levels from the top: n - 1 for the first, 0 for the
    last (the else level); the null level is -1 and carries no evidence.
    """
    evidence: dict[str, dict[int, tuple[str, float]]] = {}
    for comparison in model["splink_settings"]["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        evidence[comparison["output_column_name"]] = {
            len(levels) - 1 - i: (
                level.get("label_for_charts") or level["sql_condition"],
                math.log2(level["m_probability"] / level["u_probability"]),
            )
            for i, level in enumerate(levels)
        }
    return evidence


def review_queue(
    pairs: pd.DataFrame,
    model: dict[str, Any],
    overrides: pd.DataFrame | None = None,
    lower: float = REVIEW_LOWER,
    upper: float = REVIEW_UPPER,
    doubtful_links: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """``REVIEW_COLUMNS``, one row per uncertain or doubtful undecided pair, most probable first.

    ``pairs``: scored pairs with their ``gamma_<comparison>`` columns (``resolve_with_pairs``).
    ``doubtful_links``: ``graph.DOUBTFUL_LINK_COLUMNS``, links of doubtful clusters.
    ``fields_agreeing`` / ``fields_disagreeing``: {comparison: level label}.
    """
    reasons = pd.Series(UNCERTAIN, index=pairs.index, dtype=object)
    if doubtful_links is not None and len(doubtful_links):
        reason_of = dict(zip(pair_keys(doubtful_links, "unique_id_l", "unique_id_r"),
                             doubtful_links["reason"], strict=True))
        found = pair_keys(pairs, "unique_id_l", "unique_id_r").map(reason_of)
        reasons = found.where(found.notna(), reasons)
    uncertain = (pairs["match_probability"] >= lower) & (pairs["match_probability"] < upper)
    keep = uncertain.to_numpy() | (reasons != UNCERTAIN).to_numpy()
    band, reasons = pairs[keep], reasons[keep]
    if overrides is not None and len(overrides):
        decided = pair_keys(overrides, "record_a", "record_b")
        undecided = ~pair_keys(band, "unique_id_l", "unique_id_r").isin(decided).to_numpy()
        band, reasons = band[undecided], reasons[undecided]
    evidence = level_evidence(model)
    agreeing, disagreeing = [], []
    for row in band.itertuples(index=False):
        pro, con = {}, {}
        for name, levels in evidence.items():
            label, weight = levels.get(int(getattr(row, f"gamma_{name}")), (None, 0.0))
            if weight >= NEUTRAL_WEIGHT:
                pro[name] = label
            elif weight <= -NEUTRAL_WEIGHT:
                con[name] = label
        agreeing.append(pro)
        disagreeing.append(con)
    lo, hi = band["unique_id_l"].astype(str), band["unique_id_r"].astype(str)
    queue = pd.DataFrame({
        "record_a": lo.where(lo < hi, hi).to_numpy(),
        "record_b": hi.where(lo < hi, lo).to_numpy(),
        "match_probability": band["match_probability"].astype(float).to_numpy(),
        "fields_agreeing": agreeing,
        "fields_disagreeing": disagreeing,
        "reason": reasons.to_numpy(),
    }, columns=REVIEW_COLUMNS)
    return queue.sort_values(
        ["match_probability", "record_a", "record_b"], ascending=[False, True, True],
        ignore_index=True,
    )


OPEN_QUEUE_COLUMNS = [*REVIEW_COLUMNS, "run_id"]


def open_review_queue(conn: Any, limit: int | None = None) -> pd.DataFrame:
    """The open rows of ``identity.review_queue`` (``conn``: a psycopg connection), one per pair
    (its latest run's), most useful first: the pairs nearest to being linked, where a steward's
    decision is most likely to change a customer."""
    rows = conn.execute(
        "select record_a, record_b, match_probability, fields_agreeing, fields_disagreeing,"
        " reason, run_id from (select *, row_number() over (partition by record_a, record_b"
        " order by run_id desc) as newest from identity.review_queue where status = 'open') q"
        " where newest = 1 order by match_probability desc, record_a, record_b"
        + (" limit %s" if limit is not None else ""),
        (limit,) if limit is not None else ()).fetchall()
    return pd.DataFrame(rows, columns=OPEN_QUEUE_COLUMNS)


def format_review_row(row: Any) -> list[str]:
    """A queue row as lines for a steward: the pair, its probability, the evidence for and
    against (level labels only, never record values)."""
    lines = [f"{row.record_a}  {row.record_b}  probability {row.match_probability:.3f}"
             + ("" if row.reason == UNCERTAIN else f"  ({row.reason} of a doubtful cluster)")]
    for title, evidence in (("for", row.fields_agreeing), ("against", row.fields_disagreeing)):
        described = "; ".join(f"{name}: {label}" for name, label in sorted(evidence.items()))
        lines.append(f"    {title:<8} {described or '-'}")
    return lines
