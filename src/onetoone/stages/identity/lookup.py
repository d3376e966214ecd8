"""Score one contact against the customers' records, for the front line: the pipeline's
standardisation, its stored Splink model and the model's own blocking keys, prepared once.

``prepare_lookup`` loads the standardised records into an in-memory DuckDB, with one indexed
column per blocking rule of the model (the rule's keys joined) and the term frequencies Splink
computes over all records. ``LookupIndex.score`` then standardises the contact like a source
record, finds the candidates that share a rule's keys with it (index lookups, no scan), and
scores contact x candidates with the SQL Splink generates for the model (comparison vectors,
then its prediction), compiled once. A request runs on its own DuckDB cursor, so requests can
run in parallel threads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
from splink import DuckDBAPI, Linker
from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings

from onetoone.stages.identity import model as spec
from onetoone.stages.identity.linker import DEFAULT_THRESHOLD
from onetoone.stages.identity.review import REVIEW_LOWER
from onetoone.stages.identity.standardise import STANDARD_COLUMNS, standardise

# What a front-line lookup may give, and the source-record field each one fills.
LOOKUP_FIELDS = {
    "first_name": "first_name",
    "last_name": "last_name",
    "birth_date": "birth_date",
    "email": "email",
    "phone": "phone",
    "postcode": "postcode",
    "national_id": "national_id",
}
PROBE_ID = "frontline:lookup"
MATCH = "match"
AMBIGUOUS = "ambiguous"
NO_MATCH = "no_match"
# Candidates above this are answered; the clustering threshold decides a match.
ANSWER_FLOOR = REVIEW_LOWER
MAX_CANDIDATES = 200  # per request: a blocking key shared by more records says little


# The standardised column each lookup field fills: a given field that fills nothing is unusable.
STANDARDISED_FROM = {
    "first_name": "given_name",
    "last_name": "surname_1",
    "birth_date": "birth_date",
    "email": "email",
    "phone": "phone_e164",
    "postcode": "postcode",
    "national_id": "national_id",
}


class NothingToLookUp(ValueError):
    """The contact gives no field at all."""


class UnusableField(ValueError):
    """A given field standardises to nothing (not a date, not a phone number, ...)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field}: no usable value (the pipeline's standardisation rejects it)")
        self.field = field


@dataclass(frozen=True)
class CandidateScore:
    customer_key: str
    unique_id: str
    match_probability: float
    match_weight: float
    agreed: list[str]  # comparisons that count for the match (weight > 0)
    disagreed: list[str]
    evidence: list[dict[str, Any]]  # per comparison: level label and weight (bits)


@dataclass(frozen=True)
class LookupResult:
    outcome: str  # MATCH, AMBIGUOUS or NO_MATCH
    customers: list[CandidateScore]  # best record per customer, best first, >= ANSWER_FLOOR
    candidates_scored: int
    fields_compared: list[str]  # the standardised columns the contact filled


def contact_record(contact: dict[str, str | None]) -> pd.DataFrame:
    """A contact as a one-row source record (the pipeline's input columns)."""
    unknown = set(contact) - set(LOOKUP_FIELDS)
    if unknown:
        raise ValueError(f"unknown lookup field(s): {', '.join(sorted(unknown))}")
    source, record_id = PROBE_ID.split(":")
    row: dict[str, str | None] = {"source": source, "source_record_id": record_id}
    for name, value in contact.items():
        row[LOOKUP_FIELDS[name]] = value.strip() if isinstance(value, str) and value.strip() \
            else None
    return pd.DataFrame([row])


class LookupIndex:
    """The customers' standardised records in DuckDB, indexed on the model's blocking keys."""

    def __init__(self, con: duckdb.DuckDBPyConnection, model: dict[str, Any],
                 rules: list[tuple[str, ...]], score_sql: str, probe_columns: list[str],
                 levels: dict[str, dict[int, str]], tf_columns: list[str],
                 threshold: float) -> None:
        self._con = con
        self.model_version = model["model_version"]
        self.rules = rules
        self._score_sql = score_sql
        self._probe_columns = probe_columns
        self._levels = levels
        self._tf_columns = tf_columns
        self.threshold = threshold
        self._local = threading.local()
        self.records = int(con.execute("select count(*) from lookup_records").fetchall()[0][0])
        keys_sql = ", ".join(_rule_sql(rule) for rule in rules)
        self._keys_sql = (f"select {keys_sql} from (select "
                          + ", ".join(f"?::varchar as {c}" for c in probe_columns) + ")")

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._local.cursor = self._con.cursor()
        return cursor

    def score(self, contact: dict[str, str | None]) -> LookupResult:
        given = {name: value for name, value in contact.items()
                 if isinstance(value, str) and value.strip()}
        if not given:
            raise NothingToLookUp(f"give at least one of: {', '.join(LOOKUP_FIELDS)}")
        probe = standardise(contact_record(given)).iloc[0]
        for name in given:
            if pd.isna(probe[STANDARDISED_FROM[name]]):
                raise UnusableField(name)
        values = [None if pd.isna(probe[c]) else str(probe[c]) for c in self._probe_columns]
        filled = [c for c, v in zip(self._probe_columns, values, strict=True)
                  if v is not None and c not in ("unique_id", "source", "source_record_id")]
        cursor = self._cursor()
        keys = cursor.execute(self._keys_sql, values).fetchone()
        filters = [(i, key) for i, key in enumerate(keys) if key is not None]
        if not filters:
            return LookupResult(NO_MATCH, [], 0, filled)
        # one indexed point lookup per rule (an OR of them would scan)
        candidates = " union ".join(
            f"(select unique_id from lookup_records where rule_{i} = ? limit {MAX_CANDIDATES})"
            for i, _ in filters)
        tf = [cursor.execute(f"select {c} from lookup_tf_{c.removeprefix('tf_')}"
                             f" where {c.removeprefix('tf_')} = ?",
                             [probe[c.removeprefix("tf_")]]).fetchone()
              if probe[c.removeprefix("tf_")] is not None else None
              for c in self._tf_columns]
        params = [*values, *[row[0] if row else None for row in tf], *[k for _, k in filters]]
        rows = cursor.execute(self._score_sql.replace("{candidates}", candidates),
                              params).fetchall()
        columns = [d[0] for d in cursor.description]
        scored = [self._candidate(dict(zip(columns, row, strict=True))) for row in rows]
        return _decide(scored, self.threshold, filled)

    def _candidate(self, row: dict[str, Any]) -> CandidateScore:
        evidence = []
        for name, levels in self._levels.items():
            gamma = row.get(f"gamma_{name}")
            if gamma is None or gamma == -1:
                continue
            # Splink's match weights (log2 Bayes factors), with the term-frequency adjustment
            weight = (row.get(f"mw_{name}") or 0.0) + (row.get(f"mw_tf_adj_{name}") or 0.0)
            evidence.append({"comparison": name, "level": levels.get(int(gamma), str(gamma)),
                             "weight": round(weight, 2)})
        return CandidateScore(
            customer_key=row["customer_key_r"], unique_id=row["unique_id_r"],
            match_probability=float(row["match_probability"]),
            match_weight=float(row["match_weight"]),
            agreed=[e["comparison"] for e in evidence if e["weight"] > 0],
            disagreed=[e["comparison"] for e in evidence if e["weight"] < 0],
            evidence=evidence)

    def close(self) -> None:
        self._con.close()


def _decide(scored: list[CandidateScore], threshold: float, filled: list[str]) -> LookupResult:
    """Best record per customer; a match needs one customer at or above the clustering
    threshold and no other, else the candidates above the floor are ambiguous."""
    best: dict[str, CandidateScore] = {}
    for candidate in sorted(scored, key=lambda c: (-c.match_probability, c.unique_id)):
        best.setdefault(candidate.customer_key, candidate)
    customers = [c for c in best.values() if c.match_probability >= ANSWER_FLOOR]
    sure = [c for c in customers if c.match_probability >= threshold]
    if not customers:
        outcome = NO_MATCH
    elif len(sure) == 1:
        outcome = MATCH
    else:
        outcome = AMBIGUOUS
    return LookupResult(outcome, customers, len(scored), filled)


def _rule_sql(rule: tuple[str, ...]) -> str:
    """A rule's keys as one value (null when any key is), what the index is built on."""
    parts = [f"({spec.key(name).sql})::varchar" for name in rule]
    if len(parts) == 1:
        return parts[0]
    nulls = " or ".join(f"{p} is null" for p in parts)
    return f"case when {nulls} then null else concat_ws('\x1f', {', '.join(parts)}) end"


def prepare_lookup(records_std: pd.DataFrame, customer_keys: pd.DataFrame,
                   model: dict[str, Any], threshold: float = DEFAULT_THRESHOLD) -> LookupIndex:
    """Build the index over the customers' standardised records (``STANDARD_COLUMNS``, as the
    pipeline scored them) with ``customer_keys`` (unique_id, customer_key)."""
    blocking = model.get("blocking")
    if not blocking or not blocking.get("rules"):
        raise ValueError("the identity model has no blocking rules of its own (trained before "
                         "blocking was chosen from the data): retrain it")
    rules = [tuple(rule["keys"]) for rule in blocking["rules"]]
    columns = [c for c in STANDARD_COLUMNS if c in records_std.columns]
    con = duckdb.connect()
    con.register("records_input", pa.Table.from_pandas(records_std[columns],
                                                       preserve_index=False))
    con.register("keys_input", pa.Table.from_pandas(
        customer_keys[["unique_id", "customer_key"]], preserve_index=False))
    con.execute("create table customer_records as select r.* from records_input r"
                " semi join keys_input using (unique_id)")
    settings = {**model["splink_settings"], "retain_intermediate_calculation_columns": True,
                "retain_matching_columns": True}
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register("customer_records"), settings, log_level=None)
    tf_columns = []
    tf_joins = []
    for column in linker._settings_obj._term_frequency_columns:
        name = column.unquote().name
        tf = linker.table_management.compute_tf_table(name)
        con.execute(f"create table lookup_tf_{name} as select * from {tf.physical_name}")
        con.execute(f"create index lookup_tf_{name}_idx on lookup_tf_{name} ({name})")
        tf_columns.append(f"tf_{name}")
        tf_joins.append(f"left join lookup_tf_{name} using ({name})")
    rule_columns = ", ".join(f"{_rule_sql(rule)} as rule_{i}" for i, rule in enumerate(rules))
    con.execute(f"""
        create table lookup_records as
        select r.*, {', '.join(f'{c}' for c in tf_columns) + ',' if tf_columns else ''}
               k.customer_key, {rule_columns}
        from customer_records r inner join keys_input k using (unique_id) {' '.join(tf_joins)}
    """)
    for i in range(len(rules)):
        con.execute(f"create index lookup_rule_{i}_idx on lookup_records (rule_{i})")
    con.unregister("records_input")
    con.unregister("keys_input")
    return LookupIndex(con, model, rules, _score_sql(linker, columns, tf_columns),
                       columns, _level_labels(linker), tf_columns, threshold)


def _score_sql(linker: Linker, columns: list[str], tf_columns: list[str]) -> str:
    """Splink's scoring SQL for the contact (parameters: its columns, then its term
    frequencies) against the candidates (``{candidates}``: a query of their unique_ids, whose
    parameters follow)."""
    settings = linker._settings_obj
    probe = ", ".join([*(f"?::varchar as {c}" for c in columns),
                       *(f"?::double as {c}" for c in tf_columns)])
    ctes = [
        ("l", f"select {probe}"),
        ("r", "select * from lookup_records where unique_id in ({candidates})"),
        ("blocked", f"select {', '.join(settings._columns_to_select_for_blocking)},"
                    " r.customer_key as customer_key_r, 0 as match_key"
                    " from l cross join r"),
        ("__splink__df_comparison_vectors",
         f"select {', '.join(settings._columns_to_select_for_comparison_vector_values)},"
         " customer_key_r from blocked"),
    ]
    for step in predict_from_comparison_vectors_sqls_using_settings(settings):
        ctes.append((step["output_table_name"], step["sql"]))
    *body, (last_name, last_sql) = ctes
    # the last step's select, with the candidate's key carried along
    final = last_sql
    with_clause = ",\n".join(f"{name} as ({sql})" for name, sql in body)
    return (f"with {with_clause},\n{last_name} as ({final})\n"
            f"select p.*, v.customer_key_r from {last_name} p"
            " inner join __splink__df_comparison_vectors v"
            " on p.unique_id_r = v.unique_id_r")


def _level_labels(linker: Linker) -> dict[str, dict[int, str]]:
    """Comparison -> its levels' labels by comparison vector value."""
    return {comparison.output_column_name: {
        level.comparison_vector_value: level.label_for_charts
        for level in comparison.comparison_levels}
        for comparison in linker._settings_obj.comparisons}
