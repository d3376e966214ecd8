"""What auditors read beside the quality results, on the real embedded PostgreSQL: the load
ledger (``audit.load_ledger``: read = loaded + quarantined per batch) while raw stays closed to
them, and dbt's test results (``audit.dbt_test_results``).

Works in its own database."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest

from onetoone.foundation.config import embedded_url
from onetoone.operations.migrate import migrate
from onetoone.stages.quality import record_dbt_tests
from onetoone.stages.serving import access

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_audit_views_test"
PASSWORD = secrets.token_urlsafe(16)
LOGIN = "test_ledger_auditor"


@pytest.fixture(scope="module")
def db_url(warehouse) -> Iterator[str]:
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')
        admin.execute(f'create database "{TEST_DB}"')
    url = embedded_url(TEST_DB)
    with psycopg.connect(url) as conn:
        migrate(conn)
        conn.execute(
            """insert into raw.load_batches (source, entity, source_ref, rows_read, rows_loaded,
                   rows_quarantined, status, message, csv_header)
               values ('callcenter', 'calls', 'landing/calls-1.csv', 10, 8, 2, 'loaded',
                       'line 3: email ana@example.com', 'call_id,email'),
                      ('erp', 'customers', 'erp.customers 2024-06-01', 5, 4, 0, 'loaded',
                       null, null)""")
        access.create_login(conn, LOGIN, "auditor", PASSWORD)
    yield url
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')
        admin.execute(f"drop role if exists {LOGIN}")


def test_the_auditor_reads_the_ledger_and_not_raw(db_url: str):
    with psycopg.connect(db_url, user=LOGIN, password=PASSWORD, autocommit=True) as auditor:
        rows = auditor.execute(
            "select source_ref, rows_read, rows_loaded, rows_quarantined, reconciled"
            " from audit.load_ledger order by batch_id").fetchall()
        assert rows == [("landing/calls-1.csv", 10, 8, 2, True),
                        ("erp.customers 2024-06-01", 5, 4, 0, False)]
        columns = {c.name for c in auditor.execute(
            "select * from audit.load_ledger limit 0").description or []}
        assert not {"message", "csv_header"} & columns  # may quote delivered text
        for denied in ("select * from raw.load_batches", "select * from raw.quarantine",
                       "select * from raw.callcenter_calls"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                auditor.execute(denied)
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            auditor.execute("update audit.load_ledger set rows_loaded = 0")


def _run_results(path: Path, invocation: str, results: list[dict]) -> Path:
    """A run_results.json in dbt 1.11's layout (the fields audit reads)."""
    path.write_text(json.dumps({
        "metadata": {"dbt_schema_version": "https://schemas.getdbt.com/dbt/run-results/v6.json",
                     "dbt_version": "1.11.0", "generated_at": "2024-07-01T06:00:00.000000Z",
                     "invocation_id": invocation},
        "elapsed_time": 3.2, "args": {"which": "build"},
        "results": [{"status": status, "unique_id": unique_id, "failures": failures,
                     "message": message, "execution_time": 0.25, "thread_id": "Thread-1",
                     "adapter_response": {}, "compiled": True,
                     "timing": [{"name": "compile", "started_at": "2024-07-01T05:59:58Z",
                                 "completed_at": "2024-07-01T05:59:59Z"},
                                {"name": "execute", "started_at": "2024-07-01T05:59:59Z",
                                 "completed_at": "2024-07-01T06:00:00Z"}]}
                    for unique_id, status, failures, message in results],
    }))
    return path


def test_dbt_test_results_are_kept_per_run_without_quoted_data(db_url, tmp_path):
    run, as_of = "interval__2024-07-01", datetime(2024, 7, 1, tzinfo=UTC)
    artifact = _run_results(tmp_path / "run_results.json", "inv-1", [
        ("model.onetoone.dim_customers", "success", None, "SELECT 3"),
        ("test.onetoone.unique_dim_customers_customer_key.1a2b", "pass", 0, None),
        ("test.onetoone.not_null_fct_orders_customer_key.3c4d", "fail", 3,
         "Got 3 results, configured to fail if != 0"),
        ("test.onetoone.accepted_values_dim_customers_country.5e6f", "error", None,
         'Database Error in test: invalid input syntax for type date: "ana@example.com"'),
    ])
    # Another dbt task of the same run (the DAG runs one per model): its tests are added.
    other_task = _run_results(tmp_path / "other.json", "inv-2", [
        ("test.onetoone.unique_fct_orders_order_id.7a8b", "pass", 0, None)])
    with psycopg.connect(db_url) as conn:
        assert record_dbt_tests(conn, run_id=run, as_of=as_of, run_results=artifact) == 3
        assert record_dbt_tests(conn, run_id=run, as_of=as_of, run_results=other_task) == 1
        # The first task again (a rerun of the day): its rows are replaced, not added.
        assert record_dbt_tests(conn, run_id=run, as_of=as_of, run_results=artifact) == 3
    with psycopg.connect(db_url, user=LOGIN, password=PASSWORD, autocommit=True) as auditor:
        rows = auditor.execute(
            "select unique_id, status, failures, message, execution_time, completed_at,"
            " invocation_id, as_of from audit.dbt_test_results where run_id = %s"
            " order by unique_id", (run,)).fetchall()
    assert [(r[0].split(".")[2], r[1], r[2], r[6]) for r in rows] == [
        ("accepted_values_dim_customers_country", "error", None, "inv-1"),
        ("not_null_fct_orders_customer_key", "fail", 3, "inv-1"),
        ("unique_dim_customers_customer_key", "pass", 0, "inv-1"),
        ("unique_fct_orders_order_id", "pass", 0, "inv-2")]
    assert rows[1][3] == "Got 3 results, configured to fail if != 0"
    assert "ana@example.com" not in rows[0][3] and rows[0][3].startswith("withheld")
    assert rows[2][4] == 0.25 and rows[2][5].isoformat() == "2024-07-01T06:00:00+00:00"
    assert rows[0][7] == as_of

    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    with psycopg.connect(db_url) as conn, pytest.raises(ValueError, match="broken.json"):
        record_dbt_tests(conn, run_id=run, as_of=as_of, run_results=broken)


def test_dbt_test_results_of_the_first_layout_are_re_keyed_by_run(warehouse):
    """A warehouse created when the table was keyed by dbt's invocation: migrating keys it by
    run, its rows kept (their invocation as run), and migrating again changes nothing."""
    name = "onetoone_dbt_results_rekey_test"
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')
        admin.execute(f'create database "{name}"')
    try:
        with psycopg.connect(embedded_url(name)) as conn:
            conn.execute("create schema audit")
            conn.execute(
                """create table audit.dbt_test_results (invocation_id text not null,
                       unique_id text not null, status text not null, failures bigint,
                       message text, execution_time double precision, completed_at timestamptz,
                       generated_at timestamptz not null,
                       recorded_at timestamptz not null default now(),
                       primary key (invocation_id, unique_id))""")
            conn.execute("insert into audit.dbt_test_results (invocation_id, unique_id, status,"
                         " generated_at) values ('inv-0', 'test.onetoone.t.1', 'pass',"
                         " '2024-06-01T06:00:00Z')")
            migrate(conn)
            migrate(conn)
            key = conn.execute(
                "select array_agg(a.attname::text order by a.attname) from pg_index i"
                " join pg_attribute a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)"
                " where i.indrelid = 'audit.dbt_test_results'::regclass and i.indisprimary"
            ).fetchone()[0]
            rows = conn.execute("select run_id, invocation_id, as_of, generated_at"
                                " from audit.dbt_test_results").fetchall()
        assert key == ["run_id", "unique_id"]
        assert [(r[0], r[1], r[2] == r[3]) for r in rows] == [("inv-0", "inv-0", True)]
    finally:
        with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
            admin.execute(f'drop database if exists "{name}" with (force)')
