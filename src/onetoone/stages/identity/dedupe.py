"""Link and deduplicate any customer CSV files with the pipeline's own model
family (same standardisation, comparisons, training, clustering and keys).

Input columns are matched by name, all optional but ``record_id``: ``DEDUPE_FIELDS``. Other
column names can be mapped (``onetoone dedupe --map SRC=FIELD``); unknown columns are ignored.
Each file is one source, named after the file's stem.
"""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from onetoone.stages.identity.backends import DUCKDB
from onetoone.stages.identity.keys import assign_customer_keys
from onetoone.stages.identity.linker import TooFewRecordsToTrain, load_model, resolve, train
from onetoone.stages.identity.standardise import standardise

log = logging.getLogger(__name__)

DEDUPE_FIELDS = (
    "record_id", "first_name", "middle_name", "last_name", "birth_date", "email", "phone",
    "address_line", "city", "postcode", "region", "country", "national_id",
)
MATCH_FIELDS = tuple(f for f in DEDUPE_FIELDS if f != "record_id")
OUTPUT_COLUMNS = ["source", "record_id", "customer_key", "cluster_size"]


class DedupeInputError(Exception):
    """Input that cannot be deduplicated; the message names the file, row and field."""


@dataclass(frozen=True)
class DedupeResult:
    keys: pd.DataFrame
    model: dict
    trained: bool

    @property
    def model_version(self) -> str:
        return self.model["model_version"]

    def summary(self) -> str:
        customers = self.keys["customer_key"].nunique()
        return (f"{len(self.keys)} records, {customers} customers "
                f"(largest cluster {int(self.keys['cluster_size'].max())}); model "
                f"{self.model_version} ({'trained on this input' if self.trained else 'loaded'})")


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        source, sep, field = pair.partition("=")
        if not sep or not source or field not in DEDUPE_FIELDS:
            raise DedupeInputError(
                f"--map {pair!r}: expected SRC=FIELD with FIELD one of {', '.join(DEDUPE_FIELDS)}")
        mapping[source] = field
    return mapping


def read_records(path: Path, mapping: dict[str, str]) -> pd.DataFrame:
    """One file as the identity layer's record columns; errors name file, row and field."""
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                            encoding="utf-8")
    except FileNotFoundError as err:
        raise DedupeInputError(f"{path}: no such file") from err
    except UnicodeDecodeError as err:
        raise DedupeInputError(f"{path}: not valid UTF-8 ({err.reason} at byte {err.start});"
                               " re-export the file as UTF-8") from err
    except (pd.errors.ParserError, pd.errors.EmptyDataError, csv.Error) as err:
        raise DedupeInputError(f"{path}: not a readable CSV file: {err}") from err
    frame = frame.rename(columns={c: mapping.get(c, c.strip().lower()) for c in frame.columns})
    if "record_id" not in frame.columns:
        raise DedupeInputError(
            f"{path}: no record_id column (columns: {', '.join(frame.columns)});"
            " rename one with --map SRC=record_id")
    usable = [f for f in MATCH_FIELDS if f in frame.columns]
    if not usable:
        raise DedupeInputError(
            f"{path}: no column to match on; expected some of {', '.join(MATCH_FIELDS)}"
            " (use --map SRC=FIELD for other names)")
    missing_ids = frame.index[frame["record_id"].isna()]
    if len(missing_ids):
        raise DedupeInputError(f"{path}: row {missing_ids[0] + 2}, field 'record_id': empty")
    duplicated = frame["record_id"].duplicated(keep="first")
    if duplicated.any():
        row = int(frame.index[duplicated][0])
        raise DedupeInputError(
            f"{path}: row {row + 2}, field 'record_id': duplicate id "
            f"{frame.at[row, 'record_id']!r}; record ids must be unique within a file")
    given = frame.reindex(columns=["first_name", "middle_name"]).astype(object)
    first_names = (given["first_name"].fillna("") + " "
                   + given["middle_name"].fillna("")).str.strip()
    first_names = first_names.where(first_names != "", None)
    return pd.DataFrame({
        "source": path.stem,
        "source_record_id": frame["record_id"],
        "first_name": first_names,
        "last_name": frame.get("last_name"),
        "full_name": None,
        "birth_date": frame.get("birth_date"),
        "email": frame.get("email"),
        "phone": frame.get("phone"),
        "address_line": frame.get("address_line"),
        "city": frame.get("city"),
        "postcode": frame.get("postcode"),
        "region": frame.get("region"),
        "country": frame.get("country"),
        "national_id": frame.get("national_id"),
        "updated_at": None,
    })


def dedupe_files(paths: list[Path], *, mapping: dict[str, str] | None = None,
                 model_path: Path | None = None, backend: str = DUCKDB) -> DedupeResult:
    stems = [p.stem for p in paths]
    if len(set(stems)) != len(stems):
        raise DedupeInputError(f"two input files share a name (source): {', '.join(stems)}")
    records = pd.concat([read_records(p, mapping or {}) for p in paths], ignore_index=True)
    order = records[["source", "source_record_id"]].rename(
        columns={"source_record_id": "record_id"})
    standard = standardise(records)
    del records  # a million raw records are half a gigabyte that training can use
    trained = model_path is None
    try:
        model = train(standard) if trained else load_model(model_path)
    except TooFewRecordsToTrain as err:
        raise DedupeInputError(f"{err}; pass a model trained on more records with --model") \
            from None
    clusters = resolve(standard, model, backend=backend)
    del standard
    keys = assign_customer_keys(clusters)
    keys = keys.rename(columns={"source_record_id": "record_id"})
    keys = order.merge(keys, on=["source", "record_id"], how="left", validate="one_to_one")
    return DedupeResult(keys[OUTPUT_COLUMNS], model, trained)
