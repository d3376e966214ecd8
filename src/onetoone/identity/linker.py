"""Train, store and apply the Splink model (DuckDB backend, in memory, no database needed).

The pipeline reads ``intermediate.int_customer_records_unioned`` into pandas, runs
``standardise`` and then the functions here, and writes the result back.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import pandas as pd
import splink
from splink import DuckDBAPI, Linker, SettingsCreator, block_on

from onetoone.identity import model as spec
from onetoone.identity.overrides import cluster_pairs

logger = logging.getLogger(__name__)

MODEL_FORMAT = 1
# Connected components chain through any edge above the threshold, so it has to be high:
# one weak edge between two relatives would merge their clusters.
DEFAULT_THRESHOLD = 0.95
# Pairs below this are not kept at all (they only feed match_probability_max).
PAIR_FLOOR = 0.01
U_MAX_PAIRS = 1e7
EM_MAX_PAIRS = 5e6
# m below this is not estimable from EM on real data volumes; see smooth_parameters.
M_FLOOR = 1e-3
U_FLOOR = 1e-9

RESOLVE_COLUMNS = [
    "unique_id",
    "source",
    "source_record_id",
    "cluster_id",
    "cluster_size",
    "match_probability_max",
]


def train(records_std: pd.DataFrame, seed: int = 42) -> dict[str, Any]:
    """Estimate the model without labels and return it as a JSON-able dict.

    Prior from high-precision deterministic rules, u by random sampling, m by EM over the
    training blocking rules, then ``smooth_parameters``. Deterministic for a given input and seed.
    """
    linker = _linker(records_std, spec.settings())
    training = linker.training
    training.estimate_probability_two_random_records_match(
        spec.DETERMINISTIC_RULES, recall=spec.DETERMINISTIC_RULES_RECALL
    )
    training.estimate_u_using_random_sampling(max_pairs=U_MAX_PAIRS, seed=seed)
    all_comparisons = {
        c.output_column_name for c in linker._settings_obj.core_model_settings.comparisons
    }
    estimated: set[str] = set()
    sessions = spec.TRAINING_SESSIONS + spec.FALLBACK_TRAINING_SESSIONS
    pair_counts = {column: blocked_pair_count(records_std[column]) for column, _ in sessions}
    usable = [s for s in sessions if pair_counts[s[0]] >= spec.MIN_TRAINING_PAIRS]
    preferred = [s for s in usable if s in spec.TRAINING_SESSIONS]
    # then, for what is still unlearnt (small or sparse input), the fallbacks, largest first
    fallbacks = sorted((s for s in usable if s not in preferred),
                       key=lambda session: -pair_counts[session[0]])
    for column, fixed_comparison in preferred + fallbacks:
        is_fallback = (column, fixed_comparison) not in preferred
        if is_fallback and estimated >= all_comparisons - {fixed_comparison}:
            continue  # nothing new to learn from this session
        before = linker._settings_obj.core_model_settings.copy()
        try:
            training.estimate_parameters_using_expectation_maximisation(
                block_on(column), estimate_without_term_frequencies=True, max_pairs=EM_MAX_PAIRS
            )
        except ValueError as error:
            # Splink 5 refuses an m that underflows to 0 (a level only non-matches of this block
            # reach) and leaves the linker holding just the session's comparisons: restore them
            # and go on without this session's estimates.
            if "minimum allowed value" not in str(error):
                raise
            linker._settings_obj.core_model_settings = before
            logger.warning("EM session blocking on %s skipped: %s", column, error)
            continue
        estimated |= all_comparisons - {fixed_comparison}
    if estimated != all_comparisons:
        logger.warning(
            "no EM session could estimate %s: those comparisons keep neutral weights",
            ", ".join(sorted(all_comparisons - estimated)),
        )
    splink_settings = smooth_parameters(linker.misc.save_model_to_json())
    splink_settings.pop("linker_uid", None)  # random per Linker; not part of the model
    return {
        "model_format": MODEL_FORMAT,
        "model_version": model_version(splink_settings),
        "splink_version": splink.__version__,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_records": len(records_std),
        "splink_settings": splink_settings,
    }


def blocked_pair_count(values: pd.Series) -> int:
    """Record pairs that share a non-null value of the column (what ``block_on`` would give)."""
    sizes = values.dropna().value_counts().to_numpy(dtype="int64")
    return int((sizes * (sizes - 1) // 2).sum())


def smooth_parameters(splink_settings: dict[str, Any]) -> dict[str, Any]:
    """Make every level's m and u present and bounded away from 0.

    EM on clean data drives m to ~0 for levels only non-matches reach (e.g. birth dates a year
    apart), which turns one typo into an absolute veto; a level never observed has no m or u at
    all. Missing values become neutral (m = u), m is floored at ``M_FLOOR``, then each
    comparison's m and u are renormalised.
    """
    for comparison in splink_settings["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        for level in levels:
            m, u = level.get("m_probability"), level.get("u_probability")
            m = m if isinstance(m, float | int) else None
            u = u if isinstance(u, float | int) else None
            level["m_probability"] = max(m if m is not None else (u or M_FLOOR), M_FLOOR)
            level["u_probability"] = max(u if u is not None else (m or M_FLOOR), U_FLOOR)
        for key in ("m_probability", "u_probability"):
            total = sum(level[key] for level in levels)
            for level in levels:
                level[key] /= total
    return splink_settings


def model_version(splink_settings: dict[str, Any]) -> str:
    """Short hash of the trained settings: same spec and parameters, same version."""
    canonical = json.dumps(splink_settings, sort_keys=True, separators=(",", ":"))
    return "m" + hashlib.sha256(canonical.encode()).hexdigest()[:12]


def save_model(model: dict[str, Any], path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(model, indent=2, sort_keys=True), encoding="utf-8")
    return path


def load_model(path: str | Path) -> dict[str, Any]:
    """Read a model saved by ``save_model``; refuse unknown formats and edited files."""
    model = json.loads(Path(path).read_text(encoding="utf-8"))
    if model.get("model_format") != MODEL_FORMAT:
        raise ValueError(f"{path}: unsupported model_format {model.get('model_format')!r}")
    if model_version(model["splink_settings"]) != model["model_version"]:
        raise ValueError(f"{path}: model_version does not match its settings")
    return model


def predict_pairs(
    records_std: pd.DataFrame, model: dict[str, Any], threshold: float = PAIR_FLOOR
) -> pd.DataFrame:
    """Scored candidate pairs at or above ``threshold`` (match weight, probability, gammas)."""
    linker = _linker(records_std, model["splink_settings"])
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    return predictions.as_pandas_dataframe()


class Resolution(NamedTuple):
    clusters: pd.DataFrame  # RESOLVE_COLUMNS, one row per record
    pairs: pd.DataFrame  # scored pairs at or above ``keep_pairs_from``: probability, gammas


def resolve(
    records_std: pd.DataFrame,
    model: dict[str, Any],
    threshold: float = DEFAULT_THRESHOLD,
    overrides: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per record (``RESOLVE_COLUMNS``): connected components of pairs >= threshold,
    with the steward ``overrides`` honoured (see ``overrides.cluster_pairs``).

    ``match_probability_max`` is the best score of the record against any candidate (null when
    no pair reached ``PAIR_FLOOR``); it says how close a singleton came to merging.
    """
    return resolve_with_pairs(records_std, model, threshold, overrides).clusters


def resolve_with_pairs(
    records_std: pd.DataFrame,
    model: dict[str, Any],
    threshold: float = DEFAULT_THRESHOLD,
    overrides: pd.DataFrame | None = None,
    keep_pairs_from: float | None = None,
) -> Resolution:
    """``resolve``, also returning the scored pairs from ``keep_pairs_from`` (default: the
    threshold) with their gamma columns, so that the review queue needs no second prediction."""
    keep_from = threshold if keep_pairs_from is None else min(keep_pairs_from, threshold)
    linker = _linker(records_std, model["splink_settings"])
    predictions = linker.inference.predict(
        threshold_match_probability=min(PAIR_FLOOR, keep_from), warning_mode="never"
    )
    gammas = ", ".join(_gamma_columns(model))
    pairs = linker.misc.query_sql(
        f"""select unique_id_l, unique_id_r, match_weight, match_probability, {gammas}
            from {predictions.physical_name}
            where match_probability >= {float(keep_from)!r}
            order by unique_id_l, unique_id_r""",
        output_type="pandas",
    )
    best = linker.misc.query_sql(
        f"""select unique_id, max(match_probability) as match_probability_max
            from (
                select unique_id_l as unique_id, match_probability
                from {predictions.physical_name}
                union all
                select unique_id_r, match_probability from {predictions.physical_name}
            )
            group by unique_id""",
        output_type="pandas",
    )
    return _resolution(records_std, pairs, best, threshold, overrides)


class IdentityState(NamedTuple):
    """What an incremental run needs from the previous one, for the same model version."""

    model_version: str
    fingerprints: pd.DataFrame  # unique_id, fingerprint: the standardised record's hash
    pairs: pd.DataFrame  # every scored pair >= PAIR_FLOOR, with gammas


class IncrementalRun(NamedTuple):
    resolution: Resolution
    state: IdentityState
    records_scored: int  # new or changed records scored against all others
    pairs_kept: int  # pairs of unchanged records carried over without scoring


def record_fingerprints(records_std: pd.DataFrame) -> pd.DataFrame:
    """``unique_id, fingerprint``: a hash of everything the model compares, so that a record
    whose standardised values did not change is not scored again."""
    hashed = pd.util.hash_pandas_object(records_std.drop(columns=["unique_id"]), index=False)
    return pd.DataFrame({"unique_id": records_std["unique_id"].to_numpy(),
                         "fingerprint": hashed.to_numpy()})


def resolve_incremental(
    records_std: pd.DataFrame,
    model: dict[str, Any],
    previous: IdentityState | None,
    threshold: float = DEFAULT_THRESHOLD,
    overrides: pd.DataFrame | None = None,
    keep_pairs_from: float | None = None,
) -> IncrementalRun:
    """``resolve_with_pairs`` that scores only what changed since ``previous``.

    New and changed records are scored against the unchanged ones (Splink's ``predict_between``)
    and among themselves (``predict_within``); pairs of two unchanged records are carried over.
    Term frequencies are computed over all current records, as in a full run, so a carried-over
    pair keeps the score it got when its records last changed: a periodic full run (no
    ``previous``, or a new model version) re-scores everything, and the stable keys keep the
    same key for unchanged people either way.
    """
    keep_from = threshold if keep_pairs_from is None else min(keep_pairs_from, threshold)
    fingerprints = record_fingerprints(records_std)
    columns = ["unique_id_l", "unique_id_r", "match_weight", "match_probability",
               *_gamma_columns(model)]
    linker = _linker(records_std, model["splink_settings"])
    if previous is None or previous.model_version != model["model_version"]:
        predictions = linker.inference.predict(
            threshold_match_probability=PAIR_FLOOR, warning_mode="never")
        pairs = predictions.as_pandas_dataframe()[columns]
        changed = pd.Series(True, index=records_std.index)
        kept = pairs.iloc[0:0]
    else:
        before = fingerprints.merge(previous.fingerprints, on="unique_id", how="left",
                                    suffixes=("", "_before"))
        changed = pd.Series(
            (before["fingerprint"] != before["fingerprint_before"]).to_numpy(),
            index=records_std.index,
        )
        # few records change: drop the pairs that touch one (or a record no longer there)
        touched = pd.Index(records_std.loc[changed, "unique_id"]).union(
            pd.Index(previous.fingerprints["unique_id"]).difference(fingerprints["unique_id"]))
        old_pairs = previous.pairs
        kept = old_pairs[~(old_pairs["unique_id_l"].isin(touched)
                           | old_pairs["unique_id_r"].isin(touched))]
        pairs = pd.concat([kept, _score_changed(linker, records_std, changed, columns)],
                          ignore_index=True)
    best = (pd.concat([pairs[["unique_id_l", "match_probability"]].set_axis(
                           ["unique_id", "match_probability"], axis=1),
                       pairs[["unique_id_r", "match_probability"]].set_axis(
                           ["unique_id", "match_probability"], axis=1)])
            .groupby("unique_id", as_index=False)["match_probability"].max()
            .rename(columns={"match_probability": "match_probability_max"}))
    review_pairs = (pairs[pairs["match_probability"] >= keep_from]
                    .sort_values(["unique_id_l", "unique_id_r"], ignore_index=True))
    resolution = _resolution(records_std, review_pairs, best, threshold, overrides)
    state = IdentityState(model["model_version"], fingerprints, pairs.reset_index(drop=True))
    return IncrementalRun(resolution, state, int(changed.sum()), len(kept))


def _score_changed(linker: Linker, records_std: pd.DataFrame, changed: pd.Series,
                   columns: list[str]) -> pd.DataFrame:
    """Pairs with at least one changed record, each pair once, smaller unique_id on the left."""
    if not changed.any():
        return pd.DataFrame(columns=columns)
    for column in linker._settings_obj._term_frequency_columns:
        linker.table_management.compute_tf_table(column.unquote().name)
    db_api = linker._db_api
    new = db_api.register(records_std[changed], dataset_display_name="changed_records")
    parts = [linker.inference.predict_within(
        new, threshold_match_probability=PAIR_FLOOR, warning_mode="never")]
    if not changed.all():
        old = db_api.register(records_std[~changed], dataset_display_name="unchanged_records")
        parts.append(linker.inference.predict_between(
            new, old, threshold_match_probability=PAIR_FLOOR, warning_mode="never"))
    pairs = pd.concat([part.as_pandas_dataframe()[columns] for part in parts],
                      ignore_index=True)
    swap = pairs["unique_id_l"] > pairs["unique_id_r"]
    pairs.loc[swap, ["unique_id_l", "unique_id_r"]] = (
        pairs.loc[swap, ["unique_id_r", "unique_id_l"]].to_numpy())
    return pairs


def _gamma_columns(model: dict[str, Any]) -> list[str]:
    return [f"gamma_{c['output_column_name']}" for c in model["splink_settings"]["comparisons"]]


def _resolution(records_std: pd.DataFrame, pairs: pd.DataFrame, best: pd.DataFrame,
                threshold: float, overrides: pd.DataFrame | None) -> Resolution:
    clusters = cluster_pairs(
        records_std["unique_id"], pairs[pairs["match_probability"] >= threshold], overrides
    )
    result = (
        records_std[["unique_id", "source", "source_record_id"]]
        .merge(clusters, on="unique_id", validate="one_to_one")
        .merge(best, on="unique_id", how="left", validate="one_to_one")
        .sort_values("unique_id", ignore_index=True)
    )
    result["cluster_size"] = result.groupby("cluster_id")["unique_id"].transform("size")
    result["cluster_size"] = result["cluster_size"].astype("int64")
    return Resolution(result[RESOLVE_COLUMNS], pairs)


def _linker(records_std: pd.DataFrame, settings: SettingsCreator | dict[str, Any]) -> Linker:
    """A Linker over a fresh in-memory DuckDB holding ``records_std``."""
    db_api = DuckDBAPI()
    table = db_api.register(records_std, dataset_display_name="customer_records")
    return Linker(table, settings, log_level=None)  # logging is the application's to configure
