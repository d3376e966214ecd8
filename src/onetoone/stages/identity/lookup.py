"""Score contacts against the customers' records, for the front line: the pipeline's
standardisation, its stored Splink model and the model's own blocking rules, prepared once.

``prepare_lookup`` loads the standardised records (with the term frequencies Splink computes
over all of them) and, per blocking rule of the model, each record's key of that rule (the
DuckDB hashes of the rule's keys, mixed into one 64-bit value) sorted, so that a contact's
candidates are a binary search per rule: the records a pipeline run would have paired with it.
``LookupIndex.score_many`` standardises the contacts like source records (one record at a time,
``standardise_record``), finds their candidates and scores contact x candidate with the SQL
Splink generates for the model (comparison vectors, then its prediction), prepared once per
DuckDB cursor over two small tables of its own: only the rows change between lookups.
``LookupBatcher`` scores the lookups of concurrent requests together.
"""

from __future__ import annotations

import queue
import re
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from splink import DuckDBAPI, Linker
from splink.internals.predict import predict_from_comparison_vectors_sqls_using_settings

from onetoone.stages.identity import model as spec
from onetoone.stages.identity.linker import DEFAULT_THRESHOLD
from onetoone.stages.identity.review import REVIEW_LOWER
from onetoone.stages.identity.standardise import STANDARD_COLUMNS, standardise_record

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
PROBE_SOURCE = "frontline"
MATCH = "match"
AMBIGUOUS = "ambiguous"
NO_MATCH = "no_match"
# Candidates above this are answered; the clustering threshold decides a match.
ANSWER_FLOOR = REVIEW_LOWER
MAX_CANDIDATES = 200  # per rule and contact: a key shared by more records says little


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


def contact_source_record(contact: dict[str, str | None],
                          record_id: str = "lookup") -> dict[str, str | None]:
    """A contact as a source record (the pipeline's input columns that it fills)."""
    unknown = set(contact) - set(LOOKUP_FIELDS)
    if unknown:
        raise ValueError(f"unknown lookup field(s): {', '.join(sorted(unknown))}")
    row: dict[str, str | None] = {"source": PROBE_SOURCE, "source_record_id": record_id}
    for name, value in contact.items():
        row[LOOKUP_FIELDS[name]] = value.strip() if isinstance(value, str) and value.strip() \
            else None
    return row


def contact_record(contact: dict[str, str | None], record_id: str = "lookup") -> pd.DataFrame:
    """A contact as a one-row source record (the pipeline's input columns)."""
    return pd.DataFrame([contact_source_record(contact, record_id)])


# A rule's key from its keys' hashes: h1 * MIX + h2 (mod 2**64), the same in numpy and Python.
KEY_MIX = 0x9E3779B97F4A7C15
_UINT64 = (1 << 64) - 1


def _key_sql(name: str) -> str:
    """A blocking key's value, as text (what the pipeline's blocking compares)."""
    return f"({spec.key(name).sql})::varchar"


def _keys_select(names: list[str]) -> str:
    """Each key's hash and whether the record has the key (``h_<n>``, ``p_<n>``)."""
    return ", ".join(f"hash({_key_sql(name)}) as h_{n}, {_key_sql(name)} is not null as p_{n}"
                     for n, name in enumerate(names))


def _mixed(hashes: list) -> Any:
    """The rule's key hash from its keys' (numpy arrays or Python ints alike)."""
    mixed = hashes[0]
    for key_hash in hashes[1:]:
        mixed = (mixed * KEY_MIX + key_hash) & _UINT64 if isinstance(mixed, int) \
            else mixed * np.uint64(KEY_MIX) + key_hash  # uint64 arithmetic wraps
    return mixed


@dataclass(frozen=True)
class RuleKeys:
    """One blocking rule's key of every record: its hash, sorted, and the record's row (rows
    are in ``unique_id`` order, so the first rows of a key are the lowest ids)."""

    hashes: np.ndarray  # uint64
    rows: np.ndarray  # int64

    def rows_of(self, key_hash: int) -> np.ndarray:
        """The rows with this key, at most ``MAX_CANDIDATES`` of them."""
        first, end = np.searchsorted(self.hashes, np.uint64(key_hash), side="left"), \
            np.searchsorted(self.hashes, np.uint64(key_hash), side="right")
        return self.rows[first:min(end, first + MAX_CANDIDATES)]


class LookupIndex:
    """The customers' standardised records (an Arrow table, in ``unique_id`` order) with their
    keys of each blocking rule of the model, and Splink's scoring SQL prepared per cursor."""

    def __init__(self, con: duckdb.DuckDBPyConnection, model: dict[str, Any],
                 rules: list[tuple[str, ...]], records: pa.Table, rule_keys: list[RuleKeys],
                 key_names: list[str], statements: dict[str, str], probe_columns: list[str],
                 levels: dict[str, dict[int, str]], threshold: float) -> None:
        self._con = con
        self.model_version = model["model_version"]
        self.rules = rules
        self._records = records
        self._rule_keys = rule_keys
        self._key_names = key_names
        self._statements = statements
        self._probe_columns = probe_columns
        self._levels = levels
        self.threshold = threshold
        self._local = threading.local()
        self.records = records.num_rows

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor, with its own tables of contacts and candidates and the
        statements over them prepared once (DuckDB plans Splink's long SQL in tens of ms)."""
        cursor = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            # (database-wide) a lookup's rows are few: DuckDB's own parallel workers cost more
            # than they save; the batcher's workers run batches side by side instead
            cursor.execute("set threads = 1")
            probes = ", ".join(f'"{c}" varchar' for c in self._probe_columns)
            cursor.execute(f"create temp table lookup_probes ({probes})")
            cursor.register("candidates_shape", self._records.slice(0, 0).append_column(
                "probe_id", pa.array([], pa.string())))
            cursor.execute("create temp table lookup_candidates as select * from candidates_shape")
            cursor.unregister("candidates_shape")
            for name, sql in self._statements.items():
                cursor.execute(f"prepare {name} as {sql}")
            self._local.cursor = cursor
        return cursor

    def score(self, contact: dict[str, str | None]) -> LookupResult:
        """One contact (raises ``NothingToLookUp``, ``UnusableField``)."""
        result = self.score_many([contact])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def score_many(self, contacts: list[dict[str, str | None]]
                   ) -> list[LookupResult | ValueError]:
        """Several contacts in one query (what costs is the per-call overhead, not the rows);
        a bad contact's slot holds its error."""
        answers: list[LookupResult | ValueError | None] = [None] * len(contacts)
        probes: dict[int, dict[str, str | None]] = {}
        for n, contact in enumerate(contacts):
            given = {name: value for name, value in contact.items()
                     if isinstance(value, str) and value.strip()}
            if not given:
                answers[n] = NothingToLookUp(f"give at least one of: {', '.join(LOOKUP_FIELDS)}")
                continue
            probe = standardise_record(contact_source_record(given, f"{n}"))
            bad = next((name for name in given if probe[STANDARDISED_FROM[name]] is None), None)
            if bad:
                answers[n] = UnusableField(bad)
            else:
                probes[n] = probe
        if probes:
            for n, result in self._score_probes(probes).items():
                answers[n] = result
        return answers  # type: ignore[return-value]

    def _score_probes(self, probes: dict[int, dict[str, str | None]]) -> dict[int, LookupResult]:
        cursor = self._cursor()
        cursor.execute("delete from lookup_probes")
        cursor.execute("delete from lookup_candidates")
        cursor.from_arrow(pa.table(
            {c: pa.array([p[c] for p in probes.values()], pa.string())
             for c in self._probe_columns})).insert_into("lookup_probes")
        probe_ids, rows = [], []
        for probe_id, *values in cursor.execute("execute lookup_probe_keys").fetchall():
            key_hash = dict(zip(self._key_names, values[0::2], strict=True))
            has_key = dict(zip(self._key_names, values[1::2], strict=True))
            found = np.unique(np.concatenate([[], *(
                keys.rows_of(_mixed([key_hash[name] for name in rule]))
                for rule, keys in zip(self.rules, self._rule_keys, strict=True)
                if all(has_key[name] for name in rule))]))
            probe_ids += [probe_id] * len(found)
            rows.append(found.astype(np.int64))
        key_of: dict[str, str] = {}
        if probe_ids:
            candidates = self._records.take(pa.array(np.concatenate(rows)))
            key_of = dict(zip(candidates["unique_id"].to_pylist(),
                              candidates["customer_key"].to_pylist(), strict=True))
            cursor.from_arrow(candidates.append_column(
                "probe_id", pa.array(probe_ids, pa.string()))).insert_into("lookup_candidates")
            result = cursor.execute("execute lookup_score")
            columns = [d[0] for d in result.description]
            scored_rows = result.fetchall()
        else:
            columns, scored_rows = [], []
        scored: dict[str, list[CandidateScore]] = {}
        candidates: dict[str, int] = {}
        for row in scored_rows:
            record = dict(zip(columns, row, strict=True))
            record["customer_key_r"] = key_of[record["unique_id_r"]]
            scored.setdefault(record["unique_id_l"], []).append(self._candidate(record))
            candidates[record["unique_id_l"]] = record["candidates_scored"]
        results = {}
        for n, probe in probes.items():
            filled = [c for c in self._probe_columns if probe[c] is not None
                      and c not in ("unique_id", "source", "source_record_id")]
            results[n] = _decide(scored.get(probe["unique_id"], []), self.threshold, filled,
                                 candidates.get(probe["unique_id"], 0))
        return results

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


class LookupBatcher:
    """Lookups of concurrent requests scored together: each worker takes every contact
    waiting (up to ``max_batch``) and scores them in one ``score_many``. Under load a batch
    costs little more than one lookup; alone, a lookup waits for no one. Two workers: while
    one batch is in DuckDB (which runs without the GIL), the next is standardised and planned."""

    def __init__(self, index: LookupIndex, workers: int = 2, max_batch: int = 64) -> None:
        self.index = index
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._max_batch = max_batch
        self.batches = self.contacts = 0
        self.scoring_seconds = 0.0
        self._counting = threading.Lock()
        self._threads = [threading.Thread(target=self._work, name=f"lookup-{n}", daemon=True)
                         for n in range(workers)]
        for thread in self._threads:
            thread.start()

    def score(self, contact: dict[str, str | None], timeout: float = 30.0) -> LookupResult:
        future: Future = Future()
        self._queue.put((contact, future))
        result = future.result(timeout)
        if isinstance(result, Exception):
            raise result
        return result

    def _work(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # for the next worker
                    break
                batch.append(item)
            started = time.perf_counter()
            try:
                results = self.index.score_many([contact for contact, _ in batch])
            except Exception as error:  # the batch's requests answer it; the worker goes on
                results = [error] * len(batch)
            with self._counting:
                self.batches += 1
                self.contacts += len(batch)
                self.scoring_seconds += time.perf_counter() - started
            for (_, future), result in zip(batch, results, strict=True):
                future.set_result(result)

    def close(self) -> None:
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(10)


def _decide(scored: list[CandidateScore], threshold: float, filled: list[str],
            candidates_scored: int) -> LookupResult:
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
    return LookupResult(outcome, customers, candidates_scored, filled)


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
    con.register("records_input", pa.Table.from_pandas(
        spec.without_widely_shared_contacts(records_std[columns]), preserve_index=False))
    con.register("keys_input", pa.Table.from_pandas(
        customer_keys[["unique_id", "customer_key"]], preserve_index=False))
    con.execute("create table customer_records as select r.* from records_input r"
                " semi join keys_input using (unique_id)")
    settings = {**model["splink_settings"], "retain_intermediate_calculation_columns": True,
                "retain_matching_columns": True}
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register("customer_records"), settings, log_level=None)
    tf_names = []
    for column in linker._settings_obj._term_frequency_columns:
        name = column.unquote().name
        tf = linker.table_management.compute_tf_table(name)
        con.execute(f"create table lookup_tf_{name} as select * from {tf.physical_name}")
        tf_names.append(name)
    tf_select = "".join(f", lookup_tf_{name}.tf_{name}" for name in tf_names)
    tf_joins = " ".join(f"left join lookup_tf_{name} using ({name})" for name in tf_names)
    con.execute(f"""
        create table lookup_records as
        select r.*{tf_select}, k.customer_key
        from customer_records r inner join keys_input k using (unique_id) {tf_joins}
        order by unique_id""")
    con.execute("drop table customer_records")
    con.unregister("records_input")
    con.unregister("keys_input")
    key_names = sorted({name for rule in rules for name in rule})
    found = con.sql(f"select {_keys_select(key_names)} from lookup_records order by unique_id"
                    ).fetchnumpy()
    rule_keys = []
    for rule in rules:
        parts = [key_names.index(name) for name in rule]
        rows = np.flatnonzero(np.logical_and.reduce([found[f"p_{n}"] for n in parts]))
        hashes = _mixed([found[f"h_{n}"][rows] for n in parts])
        order = np.lexsort((rows, hashes))
        rule_keys.append(RuleKeys(hashes[order], rows[order].astype(np.int64)))
    del found
    # one chunk: taking a contact's candidates from it is a memory copy of their rows
    records = con.sql("select * from lookup_records order by unique_id").to_arrow_table() \
        .combine_chunks()
    con.execute("drop table lookup_records")
    return LookupIndex(con, model, rules, records, rule_keys, key_names,
                       _statements(linker, tf_names, key_names), columns,
                       _level_labels(linker), threshold)


def _statements(linker: Linker, tf_names: list[str], key_names: list[str]) -> dict[str, str]:
    """The two statements a cursor prepares: each contact's blocking keys (their hashes, and
    whether it has each; the rules' keys are mixed from them), and Splink's scoring SQL for the
    contacts in ``lookup_probes`` against their candidates in ``lookup_candidates``."""
    return {"lookup_probe_keys": f"select unique_id, {_keys_select(key_names)} from lookup_probes",
            "lookup_score": _score_sql(linker, tf_names)}


def _score_sql(linker: Linker, tf_names: list[str]) -> str:
    """Splink's scoring SQL for the contacts in ``lookup_probes`` against the candidate records
    in ``lookup_candidates`` (each with the ``probe_id`` it is a candidate of)."""
    settings = linker._settings_obj
    tf_select = "".join(f", lookup_tf_{name}.tf_{name}" for name in tf_names)
    tf_joins = " ".join(f"left join lookup_tf_{name} using ({name})" for name in tf_names)
    ctes = [
        ("l", f"select p.*{tf_select} from lookup_probes p {tf_joins}"),
        ("blocked", f"select {', '.join(settings._columns_to_select_for_blocking)},"
                    " 0 as match_key"
                    " from lookup_candidates r inner join l on l.unique_id = r.probe_id"),
        ("__splink__df_comparison_vectors",
         f"select {', '.join(settings._columns_to_select_for_comparison_vector_values)}"
         " from blocked"),
    ]
    for step in predict_from_comparison_vectors_sqls_using_settings(settings):
        ctes.append((step["output_table_name"], step["sql"]))
    last_name = ctes[-1][0]
    with_clause = ",\n".join(f"{name} as ({sql})" for name, sql in ctes)
    comparisons = [c.output_column_name for c in settings.comparisons]
    # the term-frequency adjustments Splink's prediction carries (per comparison using them)
    tf_weights = sorted({f"p.{name}" for name in re.findall(r"\bmw_tf_adj_\w+", ctes[-1][1])})
    wanted = ", ".join([*(f"p.gamma_{c}, p.mw_{c}" for c in comparisons), *tf_weights])
    # Only what the answer uses: the candidates a lookup answers (at or above the floor) and
    # each contact's best, with how many were scored; Python would spend more time building
    # the rows of the rest than DuckDB spends scoring them. The candidate's customer key is
    # looked up by its id in Python (a join back to the comparison vectors would have DuckDB
    # plan Splink's chain of steps twice).
    return (f"with {with_clause}\n"
            f"select p.unique_id_l, p.unique_id_r, p.match_probability, p.match_weight,"
            f" {wanted}, count(*) over (partition by p.unique_id_l) as candidates_scored"
            f" from {last_name} p"
            f" qualify p.match_probability >= {ANSWER_FLOOR!r} or row_number() over"
            " (partition by p.unique_id_l order by p.match_probability desc) = 1")


def _level_labels(linker: Linker) -> dict[str, dict[int, str]]:
    """Comparison -> its levels' labels by comparison vector value."""
    return {comparison.output_column_name: {
        level.comparison_vector_value: level.label_for_charts
        for level in comparison.comparison_levels}
        for comparison in linker._settings_obj.comparisons}
