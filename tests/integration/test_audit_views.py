"""What auditors read beside the quality results, on the real embedded PostgreSQL: the load
ledger (``audit.load_ledger``: read = loaded + quarantined per batch) while raw stays closed to
them.

Works in its own database."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest

from onetoone.foundation.config import embedded_url
from onetoone.operations.migrate import migrate
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

