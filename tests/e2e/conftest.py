"""The day both end-to-end runs cover: a small generated sample ending yesterday, run first with
`airflow dags test` (test_daily_dag.py), then again by the real scheduler, whose first scheduled
run is that same latest complete day (test_scheduled_run.py); the second run must leave the
tables of the first. The headless browser (``rendered_dom``) lives in tests/conftest.py, shared
with the front-line service's page test."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from warehouse_state import warehouse_fingerprint


@pytest.fixture(scope="session")
def daily_run(warehouse, warehouse_url, dbt_manifest, onetoone_home) -> dict:
    """The DAG run by `airflow dags test` for the latest complete day, the one a new
    deployment's scheduler runs first: its landing folder, run id, wall-clock span, logical
    date and the warehouse's fingerprint right after it."""
    from onetoone.operations.demo import prepare_sample, run_daily_dag

    logical_date = datetime.now(UTC).date()
    landing = prepare_sample(customers=400, seed=11, days=120,
                             end_date=logical_date - timedelta(days=1))
    started = datetime.now(UTC)
    run_id = run_daily_dag(logical_date)
    finished = datetime.now(UTC)
    with psycopg.connect(warehouse_url) as conn:
        fingerprint = warehouse_fingerprint(conn)
    return {"landing": landing, "run_id": run_id, "wall": (started, finished),
            "logical_date": logical_date, "fingerprint": fingerprint}
