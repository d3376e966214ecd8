"""Identity resolution's warehouse side: read the unioned customer records that dbt builds, keep
the trained Splink models, and write customer keys into the `identity` schema."""

from __future__ import annotations

import io
import logging
from datetime import datetime
from pathlib import Path

import pandas as pd
import psycopg

from onetoone.config import paths

log = logging.getLogger(__name__)

RECORDS_RELATION = "intermediate.int_customer_records_unioned"
CURRENT_MODEL = "current.json"


def read_records(conn: psycopg.Connection) -> pd.DataFrame:
    """All source customer records, as text columns (COPY is the fast path out of PostgreSQL)."""
    buffer = io.BytesIO()
    with conn.cursor().copy(
        f"copy (select * from {RECORDS_RELATION} order by source, source_record_id)"
        " to stdout with (format csv, header true)"
    ) as copy:
        for chunk in copy:
            buffer.write(chunk)
    buffer.seek(0)
    return pd.read_csv(buffer, dtype=str, keep_default_na=False, na_values=[""])


def read_previous_keys(conn: psycopg.Connection) -> pd.DataFrame:
    rows = conn.execute(
        "select source, source_record_id, customer_key from identity.customer_keys").fetchall()
    return pd.DataFrame(rows, columns=["source", "source_record_id", "customer_key"])


def write_keys(conn: psycopg.Connection, keys: pd.DataFrame, *, model_version: str,
               assigned_at: datetime) -> int:
    """Replace the record → customer key mapping in one transaction (readers see old or new)."""
    with conn.transaction():
        conn.execute("delete from identity.customer_keys")
        with conn.cursor().copy(
            "copy identity.customer_keys (source, source_record_id, customer_key, cluster_size,"
            " model_version, assigned_at) from stdin"
        ) as copy:
            for row in keys[["source", "source_record_id", "customer_key", "cluster_size"]] \
                    .itertuples(index=False):
                copy.write_row((*row, model_version, assigned_at))
    return len(keys)


def models_dir() -> Path:
    return paths().identity_models


def current_model_path() -> Path:
    return models_dir() / CURRENT_MODEL


def save_as_current(model: dict) -> Path:
    """Keep every version (for audits and rollback) and point `current.json` at the newest."""
    from onetoone.identity.linker import save_model

    versioned = save_model(model, models_dir() / f"model-{model['model_version']}.json")
    save_model(model, current_model_path())
    log.info("saved identity model %s to %s", model["model_version"], versioned)
    return versioned
