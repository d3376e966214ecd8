"""Train, store and apply the Splink model (DuckDB backend, in memory, no database needed).

The pipeline reads ``intermediate.int_customer_records_unioned`` into pandas, runs
``standardise`` and then the functions here, and writes the result back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import splink
from splink import DuckDBAPI, Linker, SettingsCreator, block_on
from splink.blocking_analysis import count_comparisons_from_blocking_rules
from splink.internals.blocking_rule_creator import BlockingRuleCreator
from splink.internals.splink_dataframe import SplinkDataFrame
from splink.internals.waterfall_chart import records_to_waterfall_data

from onetoone.foundation.config import private_dir, private_file
from onetoone.stages.identity import model as spec
from onetoone.stages.identity.backends import DUCKDB, SPARK, predict_on_spark
from onetoone.stages.identity.graph import cluster_graph_metrics
from onetoone.stages.identity.overrides import cluster_edges, empty_overrides

logger = logging.getLogger(__name__)

MODEL_FORMAT = 1
# Connected components chain through any edge above the threshold, so it has to be high:
# one weak edge between two relatives would merge their clusters.
DEFAULT_THRESHOLD = 0.95
# Pairs below this are not kept at all (they only feed match_probability_max).
PAIR_FLOOR = 0.01
U_MAX_PAIRS = 1e7
# Random pairs stop being drawn once every level has been seen this often. Levels that strangers
# almost never reach (day and month swapped, names swapped) would otherwise keep u sampling
# going through all U_MAX_PAIRS (twice the training time at 10,000 customers); 30 sightings
# put u within about a fifth of its value, a quarter of a bit of weight.
U_MIN_COUNT_PER_LEVEL = 30
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
    filled = filled_shares(records_std)
    with _database(records_std) as (con, db_api, records):
        blocking = choose_blocking(con, records, filled, len(records_std))
        chosen = [spec.BlockingRuleChoice(tuple(rule["keys"]), rule["comparisons"])
                  for rule in blocking["rules"]]
        settings = spec.settings(chosen, spec.comparisons_for(filled))
        linker = Linker(records, settings, log_level=None)
        model = _train(linker, records_std, seed)
        settings_json = model["splink_settings"]
        prior = expected_match_prior(con, db_api, records, settings_json, seed)
        settings_json["probability_two_random_records_match"] = prior
        remove_matches_from_u(settings_json, prior)
        settings_json["probability_two_random_records_match"] = expected_match_prior(
            con, db_api, records, settings_json, seed)
        model["model_version"] = model_version(settings_json)
    return {**model, "blocking": blocking}


def filled_shares(records_std: pd.DataFrame) -> dict[str, float]:
    """Column -> share of the records with a value."""
    if not len(records_std):
        return {column: 0.0 for column in records_std.columns}
    return {column: float(share) for column, share in records_std.notna().mean().items()}


# Above this many records the blocking analysis counts on a sample (Splink scales it back up):
# a rule's count from 30,000 records a side is precise enough to choose by, and costs little.
EXACT_COUNT_RECORDS = 30_000
CANDIDATE_COUNT_RECORDS = 200_000


def choose_blocking(con: duckdb.DuckDBPyConnection, records: SplinkDataFrame,
                    filled: dict[str, float], record_count: int) -> dict[str, Any]:
    """The blocking rules for this input (``model.choose_blocking``) and the chosen set's
    counts from Splink's blocking analysis: per rule, the pairs it adds to those before it,
    and in all.

    Candidates are counted from their block sizes (``candidate_comparisons``), a hundred of
    them in the time Splink's analysis takes for a few; the chosen set is measured by Splink."""
    proportion = min(1.0, EXACT_COUNT_RECORDS / max(record_count, 1))

    def count(rules: list[BlockingRuleCreator]) -> list[dict[str, Any]]:
        with warnings.catch_warnings():
            # a sampled count of a very specific rule rests on few sampled pairs, and Splink
            # says so per rule; these counts are reported, the choice used exact block sizes
            warnings.filterwarnings("ignore", "The sampled blocking analysis estimate")
            return list(count_comparisons_from_blocking_rules(
                records, blocking_rules=rules, link_type="dedupe_only",
                record_sample_proportion=proportion))

    candidates = spec.candidate_rules(filled)
    # Above CANDIDATE_COUNT_RECORDS, candidates are counted on a fixed random share of the
    # records and scaled by 1 / share^2 (a pair survives the sampling with probability share^2),
    # so that choosing costs the same at a million records as at 200,000.
    share = min(1.0, CANDIDATE_COUNT_RECORDS / max(record_count, 1))
    table = records.physical_name
    if share < 1.0:
        con.execute(f"create or replace table blocking_candidates_sample as select * from {table}"
                    f" using sample {share * 100:.6f} percent (bernoulli, 42)")
        table = "blocking_candidates_sample"
    counts = {rule: round(candidate_comparisons(con, table, rule) / share ** 2)
              for rule in candidates}
    chosen = spec.choose_blocking(counts, filled, record_count)
    if not chosen and counts:  # nothing within the budget: the most specific rule
        cheapest = min(sorted(counts), key=counts.get)
        chosen = [spec.BlockingRuleChoice(cheapest, counts[cheapest])]
    analysed = count([spec.blocking_rule(rule.keys) for rule in chosen]) if chosen else []
    # a rule that adds no pair to those before it in this data only costs time (known only
    # when counted exactly: a sampled count of nothing may be a few pairs)
    useful = [i for i, record in enumerate(analysed)
              if record["marginal_comparison_count"] > 0 or i == 0 or proportion < 1.0]
    chosen, analysed = [chosen[i] for i in useful], [analysed[i] for i in useful]
    rules = [{
        "keys": list(rule.keys),
        "sql": record["blocking_rule"],
        "comparisons": rule.comparisons,
        "new_comparisons": int(record["marginal_comparison_count"]),
    } for rule, record in zip(chosen, analysed, strict=True)]
    return {
        "records": record_count,
        "budget": spec.COMPARISONS_PER_RECORD * record_count,
        "candidates": len(candidates),
        "estimated_comparisons": int(analysed[-1]["cumulative_comparison_count"])
        if analysed else 0,
        "counted_on_share": proportion,
        "rules": rules,
    }


def candidate_comparisons(con: duckdb.DuckDBPyConnection, table: str,
                          rule: tuple[str, ...]) -> int:
    """Pairs an equi-join rule on these keys generates: n (n - 1) / 2 summed over its blocks
    (a null key joins nothing), exactly what Splink's analysis counts for such a rule."""
    keys = [spec.key(name).sql for name in rule]
    return int(_scalar(con, f"""
        select coalesce(sum(n * (n - 1) // 2), 0)::bigint from (
            select count(*)::bigint as n from {table}
            where {' and '.join(f'({k}) is not null' for k in keys)}
            group by {', '.join(keys)})"""))


def blocking_report(model: dict[str, Any]) -> list[str]:
    """The model's blocking rules with their comparison counts, one line each (none for a
    model saved before blocking was chosen from the data)."""
    blocking = model.get("blocking")
    if not blocking:
        return []
    lines = [f"blocking: {len(blocking['rules'])} rules chosen of {blocking['candidates']}, "
             f"{blocking['estimated_comparisons']:,} comparisons for {blocking['records']:,} "
             f"records (budget {blocking['budget']:,})"]
    lines += [f"  {' + '.join(rule['keys']):<48} {rule['comparisons']:>12,} pairs"
              f" ({rule['new_comparisons']:,} new)" for rule in blocking["rules"]]
    return lines


# The prior is refined on the pairs among at most this many records: it is a share of pairs,
# which a random sample of records keeps (both its matches and its pairs scale by share^2).
PRIOR_SAMPLE_RECORDS = 100_000
PRIOR_MAX_ITERATIONS = 200


def expected_match_prior(con: duckdb.DuckDBPyConnection, db_api: DuckDBAPI,
                         records: SplinkDataFrame, splink_settings: dict[str, Any],
                         seed: int) -> float:
    """The prior that the trained m and u imply: EM's update of the prior alone (m and u held),
    repeated to its fixed point, over the pairs the prediction rules generate (a pair no rule
    generates counts as a non-match).

    The deterministic rules' estimate assumes they find a fixed share of the matches; where
    names and dates are often mistyped they find far fewer, and the prior comes out several
    times too small (FEBRL3: 0.00019 against a true 0.00052), which keeps true pairs with one
    field wrong below the threshold. Each pair's Bayes factor is read once from one prediction;
    the iteration itself is arithmetic."""
    table = records.physical_name
    record_count = int(_scalar(con, f"select count(*) from {table}"))
    share = min(1.0, PRIOR_SAMPLE_RECORDS / max(record_count, 1))
    sample = records
    if share < 1.0:
        con.execute(f"create or replace table prior_sample as select * from {table}"
                    f" using sample {share * 100:.6f} percent (bernoulli, {seed})")
        sample = db_api.register("prior_sample")
        record_count = int(_scalar(con, "select count(*) from prior_sample"))
    prior = splink_settings["probability_two_random_records_match"]
    all_pairs = record_count * (record_count - 1) / 2
    if all_pairs < 1:
        return prior
    predictions = Linker(sample, splink_settings, log_level=None).inference.predict()
    weights = con.sql(f"select match_weight from {predictions.physical_name}"
                      ).fetchnumpy()["match_weight"].astype("float64")
    predictions.drop_table_from_database_and_remove_from_cache()
    # log-odds of each pair without the prior: its Bayes factor, natural log
    evidence = (weights - np.log2(prior / (1 - prior))) * np.log(2)
    for _ in range(PRIOR_MAX_ITERATIONS):
        odds = np.log(prior / (1 - prior)) + evidence
        updated = float(np.sum(1 / (1 + np.exp(-odds))) / all_pairs)
        if not 0 < updated < 1:
            return splink_settings["probability_two_random_records_match"]
        converged = abs(updated - prior) <= 1e-3 * prior
        prior = updated
        if converged:
            break
    return prior


# u is never lowered below this share of what random sampling saw: the correction subtracts an
# estimate from an estimate, and a level's u near 0 would make its weight unbounded.
U_MIN_SHARE_KEPT = 0.05


def remove_matches_from_u(splink_settings: dict[str, Any], prior: float) -> None:
    """Take the true matches out of u, in place.

    u is estimated from random pairs, and a share ``prior`` of random pairs are matches: what
    sampling sees at a level is prior * m + (1 - prior) * u. Where duplicates are many (a file
    where every person appears twice or more) that share is most of what it sees at the levels
    matches reach (FEBRL3: an exact birth date on 5e-4 of random pairs, 2.7e-5 of non-matches),
    and the weights of the strongest evidence come out several bits too low. Where duplicates
    are few the correction is negligible."""
    for comparison in splink_settings["comparisons"]:
        levels = [lvl for lvl in comparison["comparison_levels"] if not lvl.get("is_null_level")]
        for level in levels:
            seen = level["u_probability"]
            level["u_probability"] = max((seen - prior * level["m_probability"]) / (1 - prior),
                                         U_MIN_SHARE_KEPT * seen, U_FLOOR)
        total = sum(level["u_probability"] for level in levels)
        for level in levels:
            level["u_probability"] /= total


class TooFewRecordsToTrain(ValueError):
    """The input holds no pair the deterministic rules match, so no prior can be estimated."""


def _train(linker: Linker, records_std: pd.DataFrame, seed: int) -> dict[str, Any]:
    training = linker.training
    training.estimate_probability_two_random_records_match(
        spec.DETERMINISTIC_RULES, recall=spec.DETERMINISTIC_RULES_RECALL
    )
    prior = linker._settings_obj._probability_two_random_records_match
    # A prior of 0 or 1 has no match weight (Splink would fail later in log2).
    if not 0 < prior < 1:
        raise TooFewRecordsToTrain(
            f"{len(records_std)} records hold no pair that the deterministic rules match, "
            f"too few to train a model")
    training.estimate_u_using_random_sampling(
        max_pairs=U_MAX_PAIRS, seed=seed, min_count_per_level=U_MIN_COUNT_PER_LEVEL)
    all_comparisons = {
        c.output_column_name for c in linker._settings_obj.core_model_settings.comparisons
    }
    estimated: set[str] = set()
    sessions = [s for s in spec.TRAINING_SESSIONS + spec.FALLBACK_TRAINING_SESSIONS
                if s[1] in all_comparisons]
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
    path = private_dir(Path(path).parent) / Path(path).name
    path.write_text(json.dumps(model, indent=2, sort_keys=True), encoding="utf-8")
    return private_file(path)


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
    with _linker(records_std, model["splink_settings"]) as backend:
        predictions = backend.linker.inference.predict(threshold_match_probability=threshold)
        return predictions.as_pandas_dataframe()


class Resolution(NamedTuple):
    clusters: pd.DataFrame  # RESOLVE_COLUMNS, one row per record
    pairs: pd.DataFrame  # scored pairs at or above ``keep_pairs_from``: probability, gammas
    # graph.CLUSTER_METRIC_COLUMNS per cluster of 2+ records; graph.DOUBTFUL_LINK_COLUMNS
    cluster_metrics: pd.DataFrame | None = None
    doubtful_links: pd.DataFrame | None = None


def resolve(
    records_std: pd.DataFrame,
    model: dict[str, Any],
    threshold: float = DEFAULT_THRESHOLD,
    overrides: pd.DataFrame | None = None,
    backend: str = DUCKDB,
) -> pd.DataFrame:
    """One row per record (``RESOLVE_COLUMNS``): connected components of pairs >= threshold,
    with the steward ``overrides`` honoured (see ``overrides.cluster_edges``).

    ``match_probability_max`` is the best score of the record against any candidate (null when
    no pair reached ``PAIR_FLOOR``); it says how close a singleton came to merging.
    """
    return resolve_with_pairs(records_std, model, threshold, overrides,
                              backend=backend).clusters


def resolve_with_pairs(
    records_std: pd.DataFrame,
    model: dict[str, Any],
    threshold: float = DEFAULT_THRESHOLD,
    overrides: pd.DataFrame | None = None,
    keep_pairs_from: float | None = None,
    backend: str = DUCKDB,
) -> Resolution:
    """``resolve``, also returning the scored pairs from ``keep_pairs_from`` (default: the
    threshold) with their gamma columns, so that the review queue needs no second prediction."""
    return resolve_incremental(records_std, model, None, threshold, overrides,
                               keep_pairs_from, backend).resolution


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


# DuckDB's hash is fast but only stable within a DuckDB version: a stored state fingerprinted
# by another version is not comparable, and that run re-scores everything once.
FINGERPRINT_FORMAT = f"duckdb-hash-{duckdb.__version__}"


def _fingerprint_sql(records_std: pd.DataFrame) -> str:
    columns = ", ".join(f'"{c}"' for c in records_std.columns if c != "unique_id")
    return f"hash({columns})"


def resolve_incremental(
    records_std: pd.DataFrame,
    model: dict[str, Any],
    previous: IdentityState | None,
    threshold: float = DEFAULT_THRESHOLD,
    overrides: pd.DataFrame | None = None,
    keep_pairs_from: float | None = None,
    backend: str = DUCKDB,
) -> IncrementalRun:
    """Cluster the records, scoring only what changed since ``previous`` (None: everything).

    New and changed records are scored against the unchanged ones (Splink's ``predict_between``)
    and among themselves (``predict_within``); pairs of two unchanged records are carried over.
    Term frequencies are computed over all current records, as in a full run, so a carried-over
    pair keeps the score it got when its records last changed: a periodic full run (no
    ``previous``, or a new model version) re-scores everything, and the stable keys keep the
    same key for unchanged people either way.

    The bookkeeping (fingerprints, carried pairs, best score per record, the edges to cluster)
    runs in the DuckDB database Splink scores in, so that what does not change costs little.
    ``backend`` SPARK scores a full run's pairs on Spark (``backends``); an increment's few
    changed records score in DuckDB either way.
    """
    keep_from = threshold if keep_pairs_from is None else min(keep_pairs_from, threshold)
    with _linker(records_std, model["splink_settings"]) as linked:
        return _resolve_incremental(linked, records_std, model, previous, threshold, overrides,
                                    keep_from, backend)


def _resolve_incremental(backend: _Backend, records_std: pd.DataFrame,
                         model: dict[str, Any], previous: IdentityState | None,
                         threshold: float, overrides: pd.DataFrame | None,
                         keep_from: float, scoring_backend: str = DUCKDB) -> IncrementalRun:
    con, records, linker = backend.con, backend.records, backend.linker
    con.execute(f"""
        create table current_fingerprints as
        select unique_id, {_fingerprint_sql(records_std)} as fingerprint,
               row_number() over (order by unique_id) - 1 as position
        from {records.physical_name}""")
    duplicates = _scalar(con, "select count(*) - count(distinct unique_id)"
                             " from current_fingerprints")
    if duplicates:
        raise ValueError(f"{duplicates} records share a unique_id with another record")
    columns = ["unique_id_l", "unique_id_r", "match_weight", "match_probability",
               *_gamma_columns(model)]
    if scoring_backend == SPARK and (previous is None
                                     or previous.model_version != model["model_version"]):
        con.register("spark_pairs", predict_on_spark(
            spec.without_widely_shared_contacts(records_std), model["splink_settings"],
            PAIR_FLOOR, columns))
        con.execute(f"create table scored_pairs as select {', '.join(columns)} from spark_pairs")
        records_scored, pairs_kept = len(records_std), 0
    elif previous is None or previous.model_version != model["model_version"]:
        predictions = linker.inference.predict(
            threshold_match_probability=PAIR_FLOOR, warning_mode="never")
        con.execute(f"create table scored_pairs as select {', '.join(columns)}"
                    f" from {predictions.physical_name}")
        records_scored, pairs_kept = len(records_std), 0
    else:
        records_scored, pairs_kept = _rescore_changed(backend, previous, columns)
    con.execute("""
        create table best as
        select unique_id, max(match_probability) as match_probability_max
        from (select unique_id_l as unique_id, match_probability from scored_pairs
              union all
              select unique_id_r, match_probability from scored_pairs)
        group by unique_id""")
    ordered = _frame(con, f"""
        select c.unique_id, r.source, r.source_record_id, best.match_probability_max
        from current_fingerprints as c
        inner join {records.physical_name} as r using (unique_id)
        left join best using (unique_id)
        order by c.position""")
    edges = con.sql(f"""
        select l.position as left_position, r.position as right_position, p.match_weight
        from scored_pairs as p
        inner join current_fingerprints as l on p.unique_id_l = l.unique_id
        inner join current_fingerprints as r on p.unique_id_r = r.unique_id
        where p.match_probability >= {float(threshold)!r}""").fetchnumpy()
    same, different = _override_positions(con, overrides)
    smallest = cluster_edges(pd.Index(ordered["unique_id"]), edges["left_position"],
                             edges["right_position"], edges["match_weight"], same, different)
    ordered["cluster_id"] = ordered["unique_id"].array.take(smallest)
    cluster_sizes = np.bincount(smallest, minlength=len(ordered))
    ordered["cluster_size"] = cluster_sizes[smallest].astype("int64")
    cluster_metrics, doubtful_links = cluster_graph_metrics(
        con, backend.db_api, linker, ordered[["unique_id", "cluster_id"]], "scored_pairs",
        threshold)
    review_pairs = _frame(con, f"""
        select * from scored_pairs where match_probability >= {float(keep_from)!r}
        order by unique_id_l, unique_id_r""")
    state = IdentityState(
        model["model_version"],
        _frame(con, "select unique_id, fingerprint from current_fingerprints order by position"),
        _frame(con, "select * from scored_pairs order by unique_id_l, unique_id_r"),
    )
    return IncrementalRun(Resolution(ordered[RESOLVE_COLUMNS], review_pairs, cluster_metrics,
                                     doubtful_links), state,
                          records_scored, pairs_kept)


def _rescore_changed(backend: _Backend, previous: IdentityState,
                     columns: list[str]) -> tuple[int, int]:
    """Fill ``scored_pairs``: the previous pairs of two unchanged records, and the pairs with
    at least one new or changed record, scored now (each pair once, smaller id on the left).
    Returns how many records were scored and how many pairs were carried over."""
    con, db_api, records, linker = backend
    con.register("previous_fingerprints", previous.fingerprints)
    con.register("previous_pairs", previous.pairs)
    # touched: records new, changed or gone; their old pairs are dropped
    con.execute("""
        create table touched as
        select c.unique_id from current_fingerprints as c
        left join previous_fingerprints as p using (unique_id)
        where p.fingerprint is distinct from c.fingerprint
        union all
        select unique_id from previous_fingerprints
        anti join current_fingerprints using (unique_id)""")
    # typed: an empty stored frame has no column types DuckDB can infer
    typed = ", ".join(f"{c}::{_pair_column_type(c)} as {c}" for c in columns)
    con.execute(f"""
        create table scored_pairs as
        select {typed} from previous_pairs
        where unique_id_l not in (select unique_id from touched)
          and unique_id_r not in (select unique_id from touched)""")
    pairs_kept = _scalar(con, "select count(*) from scored_pairs")
    con.execute(f"create table changed_records as select * from {records.physical_name}"
                " semi join touched using (unique_id)")
    records_scored = _scalar(con, "select count(*) from changed_records")
    if not records_scored:
        return 0, pairs_kept
    for column in linker._settings_obj._term_frequency_columns:
        linker.table_management.compute_tf_table(column.unquote().name)
    changed = db_api.register("changed_records")
    parts = [linker.inference.predict_within(
        changed, threshold_match_probability=PAIR_FLOOR, warning_mode="never")]
    con.execute(f"create table unchanged_records as select * from {records.physical_name}"
                " anti join touched using (unique_id)")
    if _scalar(con, "select count(*) from unchanged_records"):
        parts.append(linker.inference.predict_between(
            changed, db_api.register("unchanged_records"),
            threshold_match_probability=PAIR_FLOOR, warning_mode="never"))
    rest = ", ".join(columns[2:])
    for part in parts:
        con.execute(f"""
            insert into scored_pairs
            select least(unique_id_l, unique_id_r), greatest(unique_id_l, unique_id_r), {rest}
            from {part.physical_name}""")
    return records_scored, pairs_kept


def _override_positions(con: duckdb.DuckDBPyConnection,
                        overrides: pd.DataFrame | None) -> tuple[np.ndarray, np.ndarray]:
    """The ``same`` and ``different`` overrides as (n, 2) arrays of record positions; overrides
    of records not in this run wait for them."""
    con.register("overrides", empty_overrides() if overrides is None else overrides)
    found = _frame(con, """
        select o.decision, a.position as position_a, b.position as position_b
        from overrides as o
        inner join current_fingerprints as a on a.unique_id = o.record_a::varchar
        inner join current_fingerprints as b on b.unique_id = o.record_b::varchar""")
    return tuple(found.loc[found["decision"] == decision, ["position_a", "position_b"]]
                 .to_numpy(dtype=np.int64).reshape(-1, 2) for decision in ("same", "different"))


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return con.sql(sql).fetchall()[0][0]


def _frame(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    """A query's result through Arrow: strings arrive without a Python object each."""
    return con.sql(sql).to_arrow_table().to_pandas()


def _pair_column_type(column: str) -> str:
    if column.startswith("unique_id"):
        return "varchar"
    return "double" if column.startswith("match_") else "integer"


def _gamma_columns(model: dict[str, Any]) -> list[str]:
    return [f"gamma_{c['output_column_name']}" for c in model["splink_settings"]["comparisons"]]


class _Backend(NamedTuple):
    con: duckdb.DuckDBPyConnection
    db_api: DuckDBAPI
    records: SplinkDataFrame  # the table customer_records
    linker: Linker


@contextmanager
def _database(records_std: pd.DataFrame
              ) -> Iterator[tuple[duckdb.DuckDBPyConnection, DuckDBAPI, SplinkDataFrame]]:
    """A fresh in-memory DuckDB holding ``records_std`` as the table ``customer_records``
    (phones and e-mails many people give left out: ``spec.without_widely_shared_contacts``),
    closed afterwards so that its memory is free for the next step."""
    with duckdb.connect() as con:
        # through Arrow, then a native table: DuckDB reads pandas' columns slower, and repeatedly
        prepared = spec.without_widely_shared_contacts(records_std)
        con.register("records_input", pa.Table.from_pandas(prepared, preserve_index=False))
        con.execute("create table customer_records as select * from records_input")
        con.unregister("records_input")
        db_api = DuckDBAPI(con)
        yield con, db_api, db_api.register("customer_records")


@contextmanager
def _linker(records_std: pd.DataFrame,
            settings: SettingsCreator | dict[str, Any]) -> Iterator[_Backend]:
    """A Linker over ``_database(records_std)``."""
    with _database(records_std) as (con, db_api, records):
        # logging is the application's to configure
        yield _Backend(con, db_api, records, Linker(records, settings, log_level=None))


@contextmanager
def pair_scorer(records_std: pd.DataFrame, model: dict[str, Any]
                ) -> Iterator[tuple[_Backend, Callable[[str, Iterable[str]], SplinkDataFrame]]]:
    """A Linker over all of ``records_std`` (term frequencies from all of them, as in a run,
    and the waterfall's intermediate columns kept), with a function that scores every pair
    among some of its records: ``score_among(table_name, unique_ids)``."""
    settings = {**model["splink_settings"], "retain_intermediate_calculation_columns": True}
    with _linker(records_std, settings) as backend:
        con, db_api, records, linker = backend
        for column in linker._settings_obj._term_frequency_columns:
            linker.table_management.compute_tf_table(column.unquote().name)

        def score_among(table_name: str, unique_ids: Iterable[str]) -> SplinkDataFrame:
            # from the table of all records, as prepared from all of them
            con.register(f"{table_name}_ids", pd.DataFrame({"unique_id": list(unique_ids)}))
            con.execute(f"create table {table_name} as select * from {records.physical_name}"
                        f" semi join {table_name}_ids using (unique_id)")
            subset = db_api.register(table_name)
            return linker.inference.score_pairs(subset, subset)

        yield backend, score_among


EXPLAIN_COLUMNS = ["record_a", "record_b", "match_probability", "match_weight", "linked",
                   "comparison", "level", "weight"]


def explain_links(records_std: pd.DataFrame, model: dict[str, Any], unique_ids: list[str],
                  threshold: float = DEFAULT_THRESHOLD) -> pd.DataFrame:
    """Why these records are (or are not) one customer: every pair of them scored by the model,
    with Splink's waterfall data, one row per pair and term (``EXPLAIN_COLUMNS``).

    The terms of a pair add up to its match weight: the prior (``comparison`` "prior"), then each
    comparison's level and weight (log2 Bayes factor), then, where the level uses term
    frequencies, the adjustment for how common the value is ("<comparison> (how common)").
    ``linked`` says whether the pair reaches ``threshold``, i.e. is an edge of the clustering.
    Term frequencies come from all of ``records_std``, as in a run; no record values are
    returned, only labels and weights.
    """
    if records_std["unique_id"].isin(unique_ids).sum() < 2:
        return pd.DataFrame(columns=EXPLAIN_COLUMNS)
    with pair_scorer(records_std, model) as (backend, score_among):
        scored = score_among("explained_records", unique_ids)
        pairs = [row for row in scored.as_record_list()
                 if str(row["unique_id_l"]) < str(row["unique_id_r"])]
        waterfall = records_to_waterfall_data(pairs, backend.linker._settings_obj, True)
    rows = []
    for term in waterfall:
        pair = pairs[term["record_number"]]
        name = term["column_name"]
        if name == "Final score":
            continue
        if name == "Prior":
            comparison, level = "prior", "two records picked at random match"
        elif name.startswith("tf_"):
            comparison, level = f"{name[3:]} (how common)", "term frequency adjustment"
        else:
            comparison, level = name, term["label_for_charts"]
        weight = term["log2_bayes_factor"]
        rows.append((pair["unique_id_l"], pair["unique_id_r"], pair["match_probability"],
                     pair["match_weight"], pair["match_probability"] >= threshold, comparison,
                     level, 0.0 if weight is None or pd.isna(weight) else float(weight)))
    explained = pd.DataFrame(rows, columns=EXPLAIN_COLUMNS)
    return explained.sort_values(["match_probability", "record_a", "record_b"],
                                 ascending=[False, True, True], kind="stable", ignore_index=True)
