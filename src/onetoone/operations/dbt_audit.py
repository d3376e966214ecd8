"""dbt's test results into the audit schema, on their own: the test task of each dbt group of
the daily DAG calls this from its Cosmos callback, in a task process of its own, so it imports
only the quality stage (about 1 s), not the whole pipeline (about 3.5 s)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

import psycopg

from onetoone.foundation.runs import interval_run_id
from onetoone.stages.quality.dbt_results import record_dbt_tests

log = logging.getLogger(__name__)


def record_dbt_test_results(warehouse: str, run_results: Path, *, as_of: datetime,
                            run_id: str | None = None) -> dict:
    """Keep the tests of one dbt invocation (its ``run_results.json``) in
    ``audit.dbt_test_results`` under the run of ``as_of``'s day, failed ones included."""
    run_id = run_id or interval_run_id(as_of)
    with psycopg.connect(warehouse) as conn, conn.transaction():
        tests = record_dbt_tests(conn, run_id=run_id, as_of=as_of, run_results=run_results)
    log.info("recorded %d dbt test result(s) for run %s", tests, run_id)
    return {"run_id": run_id, "tests": tests}
