"""Benchmark identity resolution on the sample generator's data.

    .venv/bin/python bench/bench_identity.py --customers 2000 10000 [--seed 7] [--thresholds ...]

For each size: generate the extracts, build ``int_customer_records_unioned`` in pandas the way
the dbt models do (ERP customers; each call-center contact's latest caller name, phone and email;
web accounts from registration and profile-update events), then standardise, train, resolve and
score against ``truth/records.csv``. Prints records, seconds per step, peak memory, pairwise
precision/recall/F1, household members merged, the largest cluster and the customers found
against the true people, per clustering threshold, and the blocking rules the model chose with
their comparison counts. The evidence ceiling is the recall of an oracle linking exactly the true
pairs that share a phone, email, birth date, address or national id (and what those connect):
the rest of the true pairs have only a name, or nothing, in common.
"""

from __future__ import annotations

import argparse
import csv
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from onetoone.generate import generate
from onetoone.stages.identity.evaluation import household_false_pairs, pairwise_scores
from onetoone.stages.identity.linker import blocking_report, resolve, train
from onetoone.stages.identity.standardise import INPUT_COLUMNS, standardise

TITLE = r"^(?:sr|sra|srta|dr|dra|mr|mrs|ms|miss)\.?\s+"
WEB_ATTRIBUTES = ["email", "first_name", "last_name", "phone", "birth_date", "city", "country"]


def erp_records(root: Path) -> pd.DataFrame:
    erp = pd.read_csv(root / "erp" / "customers.csv", dtype=str)
    erp = erp.rename(columns={"customer_id": "source_record_id", "tax_id": "national_id"})
    erp["full_name"] = erp["first_name"].fillna("") + " " + erp["last_name"].fillna("")
    return erp.assign(source="erp")


def callcenter_records(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((root / "callcenter").glob("calls_*.csv")):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1252")
        header, *lines = text.splitlines()
        columns = next(csv.reader([header]))
        for line in lines:  # a broken row is one line: parse line by line, skip misfits
            fields = next(csv.reader([line]), [])
            if len(fields) == len(columns):
                rows.append(dict(zip(columns, fields, strict=True)))
    calls = pd.DataFrame(rows).replace("", None)
    calls = calls.dropna(subset=["contact_id", "called_at"])
    calls = calls.sort_values(["called_at", "call_id"])
    latest = calls.groupby("contact_id")[["caller_name", "phone", "email"]].last()
    name = latest["caller_name"].str.replace(r"\s+", " ", regex=True).str.strip()
    name = name.str.replace(TITLE, "", regex=True, case=False)
    last, comma, first = name.str.partition(",").T.values
    name = pd.Series(
        [
            f"{f.strip()} {la.strip()}" if c else la
            for la, c, f in zip(last, comma, first, strict=True)
        ],
        index=latest.index,
    ).where(name.notna())
    parts = name.str.split(" ", n=1, expand=True).reindex(columns=[0, 1])
    records = latest.assign(full_name=name, first_name=parts[0], last_name=parts[1])
    return records.rename_axis("source_record_id").reset_index().assign(source="callcenter")


def web_records(root: Path) -> pd.DataFrame:
    rows = []
    for path in sorted((root / "web").glob("events_*.ndjson")):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if event.get("event_type") in ("registration", "profile_update"):
                rows.append(event)
    events = pd.DataFrame(rows).dropna(subset=["account_id", "occurred_at"])
    events["at"] = pd.to_datetime(
        events["occurred_at"], utc=True, errors="coerce", format="ISO8601"
    )
    events = events.sort_values(["at", "event_id"])
    accounts = events.groupby("account_id")[WEB_ATTRIBUTES].last()  # latest non-null each
    accounts["full_name"] = (
        accounts["first_name"].fillna("") + " " + accounts["last_name"].fillna("")
    )
    return accounts.rename_axis("source_record_id").reset_index().assign(source="web")


def unioned_records(root: Path) -> pd.DataFrame:
    parts = [erp_records(root), callcenter_records(root), web_records(root)]
    return pd.concat([part.reindex(columns=INPUT_COLUMNS) for part in parts], ignore_index=True)


# A value two records of one person share here is evidence a model can use at high precision; a
# shared name alone is not (namesakes), nor a city.
STRONG_EVIDENCE = ["phone_last8", "email", "birth_date", "address", "national_id"]


def evidence_ceiling(records_std: pd.DataFrame, truth: pd.DataFrame) -> float:
    """The recall of an oracle that links exactly the true pairs sharing a value of
    ``STRONG_EVIDENCE`` (and what they connect): what no model reaches without merging on names."""
    people = records_std[["unique_id", *STRONG_EVIDENCE]].merge(
        truth[["unique_id", "person_id"]], on="unique_id")
    people["position"] = np.arange(len(people))
    first, second = [], []
    for column in STRONG_EVIDENCE:
        groups = people.dropna(subset=[column]).groupby(["person_id", column])["position"]
        head = groups.transform("first")
        first.append(head.to_numpy())
        second.append(people.loc[head.index, "position"].to_numpy())
    a, b = np.concatenate(first), np.concatenate(second)
    _, component = connected_components(
        coo_matrix((np.ones(len(a)), (a, b)), shape=(len(people),) * 2), directed=False)
    oracle = people[["unique_id"]].assign(cluster_id=component)
    return pairwise_scores(oracle, truth)["recall"]


def run(customers: int, seed: int, thresholds: list[float], workdir: Path) -> None:
    root = workdir / f"gen_{customers}"
    generate(root, customers, seed)
    records = unioned_records(root)
    truth = pd.read_csv(root / "truth" / "records.csv", dtype=str)
    truth["unique_id"] = truth["source"] + ":" + truth["source_record_id"]

    timings = {}
    started = time.perf_counter()
    records_std = standardise(records)
    timings["standardise"] = time.perf_counter() - started
    started = time.perf_counter()
    model = train(records_std)
    timings["train"] = time.perf_counter() - started
    print(
        f"\n{customers} customers: {len(records)} records "
        f"({records['source'].value_counts().to_dict()}), model {model['model_version']}"
    )
    print("  " + ", ".join(f"{step} {seconds:.1f}s" for step, seconds in timings.items()))
    print("\n".join(f"  {line}" for line in blocking_report(model)))
    people = truth.loc[truth["unique_id"].isin(records_std["unique_id"]), "person_id"].nunique()
    print(f"  evidence ceiling: recall {evidence_ceiling(records_std, truth):.4f} for an oracle"
          f" linking true pairs that share a {', '.join(STRONG_EVIDENCE)} value")
    for threshold in thresholds:
        started = time.perf_counter()
        clusters = resolve(records_std, model, threshold=threshold)
        seconds = time.perf_counter() - started
        scores = pairwise_scores(clusters, truth)
        merged_relatives = household_false_pairs(clusters, truth)
        print(
            f"  threshold {threshold}: resolve {seconds:.1f}s  precision {scores['precision']:.4f}"
            f"  recall {scores['recall']:.4f}  F1 {scores['f1']:.4f}"
            f"  (true pairs {scores['true_pairs']}, predicted {scores['predicted_pairs']})"
            f"  household members merged: {merged_relatives} pairs"
            f"  largest cluster {clusters['cluster_size'].max()}"
            f"  customers {clusters['cluster_id'].nunique()} of {people} people"
        )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"  peak memory (process so far) {peak_mb:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[2000, 10000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--thresholds", type=float, nargs="+", default=[0.5, 0.9, 0.95, 0.99])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        for customers in args.customers:
            run(customers, args.seed, args.thresholds, Path(workdir))


if __name__ == "__main__":
    main()
