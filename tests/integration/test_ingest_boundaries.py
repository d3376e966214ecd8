"""ERP extraction windows at their edges: (previous end, until] on updated_at, so a row updated
exactly at a window's end is loaded by that window, once, and a row a microsecond later by the
next one."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from onetoone.operations import pipeline

pytestmark = pytest.mark.integration

BOUNDARY = datetime(2025, 3, 12, tzinfo=UTC)  # C2's updated_at in the erp_source fixture
LATER = datetime(2025, 3, 20, tzinfo=UTC)


def _loaded_customers(warehouse: str) -> list[tuple[str, int]]:
    with psycopg.connect(warehouse) as conn:
        return conn.execute(
            "select c.customer_id, b.batch_id from raw.erp_customers c"
            " join raw.load_batches b on b.batch_id = c._batch_id order by 1, 2").fetchall()


def test_a_row_updated_exactly_at_the_window_end_is_loaded_by_that_window_only(
        clean_raw, erp_source):
    with psycopg.connect(erp_source, autocommit=True) as erp:
        erp.execute("insert into erp.customers (customer_id, first_name, country, updated_at)"
                    " values ('C3', 'Rui', 'BR', %s)",
                    (datetime(2025, 3, 12, 0, 0, 0, 1, tzinfo=UTC),))
    first = pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=BOUNDARY)
    read = {b.entity: b.rows_read for b in first.batches}
    assert read["customers"] == 2  # C1 and C2 (at the boundary); not C3, a microsecond later
    first_batch = {b.entity: b.batch_id for b in first.batches}["customers"]
    assert _loaded_customers(clean_raw) == [("C1", first_batch), ("C2", first_batch)]

    second = pipeline.ingest("erp", warehouse=clean_raw, erp=erp_source, until=LATER)
    read = {b.entity: b.rows_read for b in second.batches}
    assert read["customers"] == 1  # only C3: C2 is not extracted twice
    second_batch = {b.entity: b.batch_id for b in second.batches}["customers"]
    assert _loaded_customers(clean_raw) == [
        ("C1", first_batch), ("C2", first_batch), ("C3", second_batch)]
