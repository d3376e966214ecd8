"""Data quality on a real PostgreSQL with real GX: good data passes, each bad fixture fails the
rule meant to catch it with the right severity, and results land in ``audit`` for auditors.

Uses ``ONETOONE_TEST_WAREHOUSE_URL`` if set, else the database ``onetoone_gxdev`` on the
embedded server (started if needed). The tables it needs are recreated there; GX files go to a
temporary ``ONETOONE_HOME``.
"""

from __future__ import annotations

import json
import logging
import os
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from onetoone.foundation.config import embedded_url
from onetoone.foundation.personal import WEB_PERSONAL_KEYS
from onetoone.operations.migrate import migrate
from onetoone.runtime import warehouse
from onetoone.stages.quality import QualityGateFailed, QualityReport, data_docs_index, run_layer
from onetoone.stages.quality.runner import load_layer, run_suites
from onetoone.stages.quality.spec import TableSuite, warning

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_gxdev"
AS_OF = datetime(2024, 6, 30, 23, 59, 59, tzinfo=UTC)
EXTRACTED_AT = datetime(2024, 6, 30, 23, 0, tzinfo=UTC)

MARTS_DDL = """
drop schema if exists marts_build cascade;
create schema if not exists marts_build;
create table marts_build.dim_customers (customer_key text, full_name text, household_key text);
create table marts_build.mart_customer_value (
    customer_key text, value_tier text, quintile integer, trailing_margin numeric(14, 2),
    actual_value numeric(14, 2), strategic_value numeric(14, 2));
create table marts_build.dim_households (
    household_key text, members bigint, household_actual_value numeric,
    household_strategic_value numeric, best_value_tier text);
create table marts_build.mart_portfolios (
    customer_key text, portfolio_id text, value_tier text, primary_need text);
"""

GOOD_ROWS: dict[tuple[str, str, str], list[dict[str, Any]]] = {
    ("callcenter", "calls", "callcenter_calls"): [
        {
            "call_id": "CL00000001",
            "called_at": datetime(2024, 6, 1, 10, 0),
            "contact_id": "CC1",
            "caller_name": "Ana Silva",
            "phone": "(11) 98765-4321",
            "email": "ana@example.com",
            "reason": "billing",
            "duration_seconds": 120,
            "satisfaction": 5,
            "is_complaint": False,
            "resolution": "resolved",
            "agent_id": "AG001",
        },
        {
            "call_id": "CL00000002",
            "called_at": datetime(2024, 6, 2, 11, 0),
            "contact_id": "CC1",
            "caller_name": "Silva Ana",
            "phone": "11 98765 4321",
            "email": None,
            "reason": "delivery",
            "duration_seconds": 0,
            "satisfaction": None,
            "is_complaint": False,
            "resolution": "pending",
            "agent_id": "AG002",
        },
    ],
    ("web", "events", "web_events"): [
        {
            "event_id": "E1",
            "event_type": "registration",
            "occurred_at": datetime(2024, 6, 3, 9, 0, tzinfo=UTC),
            "account_id": "W000001",
            "session_id": "S1",
            "payload": Jsonb({"email": "bo@example.com", "first_name": "Bo"}),
        },
        {
            "event_id": "E2",
            "event_type": "page_view",
            "occurred_at": datetime(2024, 6, 3, 9, 5, tzinfo=UTC),
            "account_id": None,
            "session_id": "S2",
            "payload": Jsonb({"page_category": "shoes"}),
        },
        {
            "event_id": "E3",
            "event_type": "consent_change",
            "occurred_at": datetime(2024, 6, 3, 9, 9, tzinfo=UTC),
            "account_id": "W000001",
            "session_id": "S1",
            "payload": Jsonb({"channel": "whatsapp", "granted": True}),
        },
    ],
    ("erp", "customers", "erp_customers"): [
        {
            "customer_id": f"C{n}",
            "first_name": "Ana",
            "last_name": "Silva Souza",
            "email": f"c{n}@example.com",
            "country": "BR",
            "birth_date": datetime(1980, 1, n),
            "created_at": datetime(2020, 1, 1, tzinfo=UTC),
            "updated_at": datetime(2024, 6, 1, tzinfo=UTC),
        }
        for n in (1, 2)
    ],
    ("erp", "products", "erp_products"): [
        {
            "product_id": "P1",
            "product_name": "Shoe",
            "category": "shoes",
            "unit_cost": 6,
            "unit_price": 10,
            "updated_at": datetime(2024, 1, 1, tzinfo=UTC),
        },
    ],
    ("erp", "orders", "erp_orders"): [
        {
            "order_id": order_id,
            "customer_id": customer_id,
            "ordered_at": ordered_at,
            "channel": "web",
            "status": "completed",
            "updated_at": ordered_at,
        }
        for order_id, customer_id, ordered_at in [
            ("O1", "C1", datetime(2024, 5, 1, tzinfo=UTC)),
            ("O2", "C2", datetime(2024, 6, 1, tzinfo=UTC)),
            ("O3", "C1", datetime(2023, 1, 1, tzinfo=UTC)),  # outside the trailing 12 months
        ]
    ],
    ("erp", "order_lines", "erp_order_lines"): [
        # margins: O1 2 * (10 - 6) - 1 = 7, O2 4, O3 20 (outside the window)
        {
            "order_id": order_id,
            "line_number": 1,
            "product_id": "P1",
            "quantity": quantity,
            "unit_price": 10,
            "unit_cost": 6,
            "discount": discount,
            "updated_at": datetime(2024, 6, 1, tzinfo=UTC),
        }
        for order_id, quantity, discount in [("O1", 2, 1), ("O2", 1, 0), ("O3", 5, 0)]
    ],
}

IDENTITY_ROWS = [  # (source, source_record_id, customer_key, cluster_size)
    ("erp", "C1", "K1", 2),
    ("callcenter", "CC1", "K1", 2),
    ("erp", "C2", "K2", 1),
    ("web", "W000001", "K3", 1),
]
VALUE_ROWS = [("K1", "MVC", 5, 7), ("K2", "MGC", 4, 4), ("K3", "other", 1, 0)]  # sum 11 = ERP


def _test_url() -> str:
    url = os.environ.get("ONETOONE_TEST_WAREHOUSE_URL")
    if url:
        return url
    warehouse.start()  # idempotent: a running server is left as it is
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as conn:
        if not conn.execute("select 1 from pg_database where datname = %s", (TEST_DB,)).fetchone():
            conn.execute(sql.SQL("create database {}").format(sql.Identifier(TEST_DB)))
    return embedded_url(TEST_DB)


@pytest.fixture(scope="module")
def db_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A clean warehouse schema with the good fixture loaded, and a private GX home."""
    url = _test_url()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("drop schema if exists raw, identity, audit cascade")
        with conn.transaction():
            migrate(conn)
        conn.execute(MARTS_DDL)
        _load_good_identity_and_marts(conn)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONETOONE_WAREHOUSE_URL", url)
        patch.setenv("ONETOONE_HOME", str(tmp_path_factory.mktemp("onetoone_home")))
        _write_marts_manifest()
        yield url


def _write_marts_manifest() -> None:
    """What the dbt YAML says of the marts of MARTS_DDL (personal: full_name)."""
    from onetoone.runtime.dbt import manifest_file

    marts = {"dim_customers": {"customer_key": False, "full_name": True, "household_key": False},
             "mart_customer_value": dict.fromkeys(
                 ("customer_key", "value_tier", "quintile", "trailing_margin", "actual_value",
                  "strategic_value"), False),
             "dim_households": dict.fromkeys(
                 ("household_key", "members", "household_actual_value",
                  "household_strategic_value", "best_value_tier"), False),
             "mart_portfolios": dict.fromkeys(
                 ("customer_key", "portfolio_id", "value_tier", "primary_need"), False)}
    nodes = {f"model.onetoone.{name}": {
        "resource_type": "model", "name": name, "alias": name, "schema": "marts_build",
        "tags": [], "columns": {column: {"name": column, "config": {"meta": {"pii": pii}}}
                                for column, pii in columns.items()}}
        for name, columns in marts.items()}
    path = manifest_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"nodes": nodes}))


@pytest.fixture(scope="module")
def good_batch_ids(db_url: str) -> list[int]:
    with psycopg.connect(db_url, autocommit=True) as conn:
        return [
            _insert_batch(conn, source, entity, table, rows)
            for (source, entity, table), rows in GOOD_ROWS.items()
        ]


@pytest.fixture(scope="module")
def good_raw_report(good_batch_ids: list[int]) -> QualityReport:
    return run_layer("raw", "run-good", as_of=AS_OF, batch_ids=good_batch_ids)


def _insert_batch(
    conn: psycopg.Connection,
    source: str,
    entity: str,
    table: str,
    rows: list[dict[str, Any]],
    rows_loaded: int | None = None,
    day: datetime | None = None,
) -> int:
    """Load rows the way ingest does: a ledger row, then the rows tagged with its batch id.
    ``day`` gives the batch the one-day window a daily file has."""
    row = conn.execute(
        """insert into raw.load_batches (source, entity, source_ref, rows_read, rows_loaded,
               status, finished_at, window_start, window_end)
           values (%s, %s, %s, %s, %s, 'loaded', now(), %s, %s) returning batch_id""",
        (
            source,
            entity,
            f"test/{uuid.uuid4()}",
            len(rows),
            len(rows) if rows_loaded is None else rows_loaded,
            day,
            day and day + timedelta(days=1),
        ),
    ).fetchone()
    assert row is not None
    batch_id: int = row[0]
    for line_number, values in enumerate(rows, start=1):
        lineage = (
            {"_extracted_at": EXTRACTED_AT}
            if source == "erp"
            else {"_source_file": f"{table}.test", "_line_number": line_number}
        )
        columns = {**values, **lineage, "_batch_id": batch_id}
        conn.execute(
            sql.SQL("insert into {} ({}) values ({})").format(
                sql.Identifier("raw", table),
                sql.SQL(", ").join(map(sql.Identifier, columns)),
                sql.SQL(", ").join(sql.Placeholder() * len(columns)),
            ),
            list(columns.values()),
        )
    return batch_id


def _load_good_identity_and_marts(conn: psycopg.Connection) -> None:
    with conn.cursor() as cur:
        cur.executemany(
            """insert into identity.customer_keys (source, source_record_id, customer_key,
                   cluster_size, model_version, assigned_at)
               values (%s, %s, %s, %s, 'test', now())""",
            IDENTITY_ROWS,
        )
        cur.executemany(
            "insert into marts_build.dim_customers (customer_key, household_key) values (%s, %s)",
            [("K1", "HH-1"), ("K2", "HH-1"), ("K3", None)],
        )
        # VALUE_ROWS give no actual or strategic value: the household's sums are 0
        cur.execute("insert into marts_build.dim_households values ('HH-1', 2, 0, 0, 'MVC')")
        cur.executemany(
            "insert into marts_build.mart_customer_value values (%s, %s, %s, %s)", VALUE_ROWS
        )
        cur.executemany(
            "insert into marts_build.mart_portfolios values (%s, %s || '|shoes|1', %s, 'shoes')",
            [(key, tier, tier) for key, tier, _, _ in VALUE_ROWS],
        )


def _failures(report: QualityReport) -> set[tuple[str, str, str | None, str]]:
    return {
        (c.table, c.expectation_type, c.column, c.severity) for c in report.checks if not c.success
    }


def _audit_rows(url: str, run_id: str, layer: str) -> list[dict[str, Any]]:
    with psycopg.connect(url, row_factory=psycopg.rows.dict_row) as conn:
        return conn.execute(
            "select * from audit.expectation_results where run_id = %s and layer = %s",
            (run_id, layer),
        ).fetchall()


def test_good_raw_batches_pass_and_are_audited(db_url: str, good_raw_report: QualityReport):
    report = good_raw_report
    assert report.passed, [c.describe() for c in report.critical_failures]
    assert not report.warning_failures, [c.describe() for c in report.warning_failures]
    # every declared rule ran and passed: one that silently did not run would be missing here
    declared = [e for table_suite in load_layer("raw").SUITES
                for e in table_suite.suite.expectations]
    assert len(report.suites) == 6 and report.passed_count == len(report.checks) == len(declared)
    report.raise_on_critical()

    with psycopg.connect(db_url) as conn:
        runs = conn.execute(
            "select data_asset, success, evaluated, unsuccessful, data_docs_path"
            " from audit.validation_runs where run_id = 'run-good' and layer = 'raw'"
        ).fetchall()
    assert {run[0] for run in runs} == {f"raw.{table}" for _, _, table in GOOD_ROWS}
    assert all(success and unsuccessful == 0 for _, success, _, unsuccessful, _ in runs)
    assert sum(run[2] for run in runs) == len(report.checks)
    assert all(Path(run[4]).is_file() for run in runs)
    row_counts = [
        r
        for r in _audit_rows(db_url, "run-good", "raw")
        if r["expectation_type"] == "expect_table_row_count_to_equal"
        and r["data_asset"] == "raw.web_events"
    ]
    assert row_counts[0]["observed_value"] == 3 and row_counts[0]["kwargs"]["value"] == 3


def test_bad_raw_batches_fail_the_right_rules(db_url: str, good_batch_ids: list[int]):
    bad_call = {
        **GOOD_ROWS[("callcenter", "calls", "callcenter_calls")][0],
        "call_id": "CL00000009",
        "satisfaction": 7,
        "reason": "weather",
        "called_at": datetime(2024, 7, 15, 8, 0),
        "email": "not-an-email",
    }
    bad_line = {
        **GOOD_ROWS[("erp", "order_lines", "erp_order_lines")][0],
        "order_id": "O9",
        "unit_price": -5,
    }
    with psycopg.connect(db_url, autocommit=True) as conn:
        bad_batch_ids = [
            _insert_batch(conn, "callcenter", "calls", "callcenter_calls", [bad_call]),
            # the ledger claims two rows, one landed
            _insert_batch(conn, "erp", "order_lines", "erp_order_lines", [bad_line], 2),
            _insert_batch(conn, "web", "events", "web_events", [{
                **GOOD_ROWS[("web", "events", "web_events")][0], "event_id": "E9",
                "payload": Jsonb({"email": "bo @example.com"})}]),
        ]

    report = run_layer("raw", "run-bad", as_of=AS_OF, batch_ids=bad_batch_ids)

    calls, lines = "raw.callcenter_calls", "raw.erp_order_lines"
    assert _failures(report) == {
        (calls, "expect_column_values_to_be_between", "satisfaction", "critical"),
        (calls, "expect_column_values_to_be_in_set", "reason", "critical"),
        (calls, "expect_column_values_to_be_between", "called_at", "critical"),
        (calls, "expect_column_values_to_match_regex", "email", "warning"),
        (lines, "expect_column_values_to_be_between", "unit_price", "critical"),
        (lines, "expect_table_row_count_to_equal", None, "critical"),
        ("raw.web_events", "unexpected_rows_expectation", None, "warning"),
    }
    with pytest.raises(QualityGateFailed) as raised:
        report.raise_on_critical()
    message = str(raised.value)
    for expected in (
        "raw.callcenter_calls",
        "satisfaction",
        "[7]",
        '["weather"]',
        "2024-07-15",
        "raw.erp_order_lines",
        "unit_price",
        "observed 1",
    ):
        assert expected in message
    assert "not-an-email" not in message and "Ana Silva" not in message

    audit = {
        (r["data_asset"], r["column_name"], r["expectation_type"]): r
        for r in _audit_rows(db_url, "run-bad", "raw")
    }
    satisfaction = audit[(calls, "satisfaction", "expect_column_values_to_be_between")]
    assert satisfaction["severity"] == "critical" and not satisfaction["success"]
    assert satisfaction["partial_unexpected_list"] == [7]
    # a personal value is masked: the sample says which batch and line hold it
    email = audit[(calls, "email", "expect_column_values_to_match_regex")]
    assert email["partial_unexpected_list"] == [
        {"_batch_id": bad_batch_ids[0], "_source_file": "callcenter_calls.test",
         "_line_number": 1, "email": "aaa-aa-aaaaa"}]
    assert satisfaction["unexpected_count"] == 1 and satisfaction["kwargs"]["max_value"] == 5
    [web_email] = [r for r in audit.values() if r["data_asset"] == "raw.web_events"
                   and not r["success"]]
    assert web_email["partial_unexpected_list"] == [
        {"_batch_id": bad_batch_ids[2], "_source_file": "web_events.test", "_line_number": 1,
         "event_id": "E9", "email": "aa\u2423@aaaaaaa.aaa"}]
    future = audit[(calls, "called_at", "expect_column_values_to_be_between")]
    assert future["kwargs"]["max_value"].startswith("2024-06-30T23:59:59")
    assert audit[(lines, None, "expect_table_row_count_to_equal")]["observed_value"] == 1


def test_a_retried_run_checks_batches_the_gate_has_not_passed(db_url: str):
    """A retry skips files it loaded already, so its own batches are empty; the batch the gate
    rejected must be checked again all the same, until a fix makes it pass."""
    from onetoone.operations.pipeline import check_quality

    with psycopg.connect(db_url, autocommit=True) as conn:
        # earlier tests' batches are not this test's business
        conn.execute("update raw.load_batches set raw_gate_passed = true")
        bad_call = {
            **GOOD_ROWS[("callcenter", "calls", "callcenter_calls")][0],
            "call_id": "CL00000077",
            "satisfaction": 9,
        }
        bad_batch = _insert_batch(conn, "callcenter", "calls", "callcenter_calls", [bad_call])

    def gate(run_id: str, batch_ids: list[int]) -> dict:
        return check_quality("raw", db_url, run_id=run_id, as_of=AS_OF,
                             ingested=[{"batch_ids": batch_ids}])

    def verdict() -> tuple[bool | None, str]:
        with psycopg.connect(db_url) as conn:
            row = conn.execute(
                "select raw_gate_passed, raw_gate_run_id from raw.load_batches"
                " where batch_id = %s", (bad_batch,)).fetchone()
        assert row is not None
        return row[0], row[1]

    with pytest.raises(QualityGateFailed, match="satisfaction"):
        gate("run-first-try", [bad_batch])
    assert verdict() == (False, "run-first-try")
    with pytest.raises(QualityGateFailed, match="satisfaction"):
        gate("run-retry", [])  # the file was skipped as already loaded
    assert verdict() == (False, "run-retry")

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("update raw.callcenter_calls set satisfaction = 4 where _batch_id = %s",
                     (bad_batch,))
    assert gate("run-after-fix", [])["passed"] > 0
    assert verdict() == (True, "run-after-fix")


def _monday_calls(day: datetime, count: int) -> list[dict[str, Any]]:
    template = GOOD_ROWS[("callcenter", "calls", "callcenter_calls")][0]
    local_morning = day.replace(hour=9, tzinfo=None)
    return [
        {**template, "call_id": f"CL{day:%m%d}{n:04}",
         "called_at": local_morning + timedelta(minutes=n)}
        for n in range(count)
    ]


def test_a_load_far_below_the_same_weekday_loads_is_a_warning(db_url: str):
    """Four Mondays of about a hundred calls (ledger rows only), then a Monday with three calls:
    recorded as a warning with the band used; the next Monday with 90 passes, the short day
    counting as one of its comparable loads without dragging the median down."""
    mondays = [datetime(2024, 6, day, tzinfo=UTC) for day in (3, 10, 17, 24)]
    short_monday, next_monday = datetime(2024, 7, 1, tzinfo=UTC), datetime(2024, 7, 8, tzinfo=UTC)
    with psycopg.connect(db_url, autocommit=True) as conn:
        for monday, rows in zip(mondays, (100, 96, 110, 104), strict=True):
            _insert_batch(conn, "callcenter", "calls", "callcenter_calls", [], rows, day=monday)
        short = _insert_batch(conn, "callcenter", "calls", "callcenter_calls",
                              _monday_calls(short_monday, 3), day=short_monday)
        normal = _insert_batch(conn, "callcenter", "calls", "callcenter_calls",
                               _monday_calls(next_monday, 90), day=next_monday)
    as_of = datetime(2024, 7, 9, tzinfo=UTC)

    low = run_layer("raw", "run-rows-low", as_of=as_of, batch_ids=[short])
    usual = run_layer("raw", "run-rows-usual", as_of=as_of, batch_ids=[normal])

    calls = "raw.callcenter_calls"
    assert low.passed  # a warning does not stop the run
    assert _failures(low) == {(calls, "expect_table_row_count_to_be_between", None, "warning")}
    [check] = low.warning_failures
    # median of 96, 100, 104, 110 is 102: the band is half to twice that
    assert (check.observed_value, check.kwargs) == (3, {"min_value": 51, "max_value": 204})
    assert "observed 3; expected min_value=51, max_value=204" in check.describe()
    [audited] = [
        r for r in _audit_rows(db_url, "run-rows-low", "raw")
        if r["expectation_type"] == "expect_table_row_count_to_be_between"
        and r["data_asset"] == calls
    ]
    assert (audited["success"], audited["severity"], audited["observed_value"]) == (
        False, "warning", 3)
    assert "same weekday" in audited["why"]

    assert not _failures(usual), [c.describe() for c in usual.checks if not c.success]
    band = next(c for c in usual.checks if c.expectation_type
                == "expect_table_row_count_to_be_between" and c.table == calls)
    # comparable: 3, 104, 110, 96 (the short Monday is one of them); median 100
    assert (band.observed_value, band.kwargs) == (90, {"min_value": 50, "max_value": 200})


def test_a_suite_that_saw_no_rows_is_recorded_as_no_data_not_as_a_pass(
    db_url: str, good_batch_ids: list[int]
):
    erp_batches = [batch_id for (source, _, _), batch_id in zip(GOOD_ROWS, good_batch_ids,
                                                                 strict=True) if source == "erp"]
    report = run_layer("raw", "run-erp-only", as_of=AS_OF, batch_ids=erp_batches)
    assert set(report.suites_without_data) == {
        suite for suite in report.suites if not suite.startswith("raw.erp")} != set()
    assert "no data for" in report.summary()
    with psycopg.connect(db_url) as conn:
        runs = {asset: (rows, verdict) for asset, rows, verdict in conn.execute(
            "select data_asset, rows_checked, verdict from audit.validation_runs"
            " where run_id = 'run-erp-only' and layer = 'raw'").fetchall()}
    assert runs["raw.web_events"] == (0, "no data")
    assert runs["raw.callcenter_calls"] == (0, "no data")
    assert runs["raw.erp_customers"] == (2, "passed")
    assert runs["raw.erp_orders"] == (3, "passed")


def test_rerun_replaces_audit_rows(db_url: str):
    first = run_layer("identity", "run-rerun", as_of=AS_OF)
    again = run_layer("identity", "run-rerun", as_of=AS_OF)
    assert first.passed and not first.warning_failures, [c.describe() for c in first.checks]
    assert again.passed
    with psycopg.connect(db_url) as conn:
        results, runs = conn.execute(
            """select (select count(*) from audit.expectation_results
                       where run_id = 'run-rerun' and layer = 'identity'),
                      (select count(*) from audit.validation_runs
                       where run_id = 'run-rerun' and layer = 'identity')"""
        ).fetchone()
    assert (results, runs) == (len(again.checks), 1)


def test_giant_identity_cluster_fails(db_url: str):
    giant = [("web", f"W9{n:05}", "KGIANT", 60) for n in range(60)]
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.cursor().executemany(
            """insert into identity.customer_keys (source, source_record_id, customer_key,
                   cluster_size, model_version, assigned_at)
               values (%s, %s, %s, %s, 'test', now())""",
            giant,
        )
        try:
            bad = run_layer("identity", "run-identity-bad", as_of=AS_OF)
        finally:
            conn.execute("delete from identity.customer_keys where customer_key = 'KGIANT'")

    keys = "identity.customer_keys"
    assert _failures(bad) == {
        (keys, "expect_column_values_to_be_between", "cluster_size", "critical"),
        (keys, "expect_column_mean_to_be_between", "cluster_size", "warning"),
    }
    cluster = next(c for c in bad.critical_failures if c.column == "cluster_size")
    assert cluster.unexpected_count == 60 and cluster.sample[0] == 60
    assert "cluster_size" in str(pytest.raises(QualityGateFailed, bad.raise_on_critical).value)


def test_invalid_tier_and_unreconciled_margin_fail(db_url: str):
    good = run_layer("marts", "run-marts", as_of=AS_OF)
    assert good.passed and not good.warning_failures, [c.describe() for c in good.checks]

    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            "update marts_build.mart_customer_value set value_tier = 'VIP'"
            " where customer_key = 'K3'"
        )
        conn.execute(
            "update marts_build.mart_customer_value set trailing_margin = 100"
            " where customer_key = 'K1'"
        )
        try:
            bad = run_layer("marts", "run-marts-bad", as_of=AS_OF)
        finally:
            conn.execute("truncate marts_build.mart_customer_value")
            conn.cursor().executemany(
                "insert into marts_build.mart_customer_value values (%s, %s, %s, %s)", VALUE_ROWS
            )

    value = "marts_build.mart_customer_value"
    assert _failures(bad) == {
        (value, "expect_column_values_to_be_in_set", "value_tier", "critical"),
        (value, "expect_column_sum_to_be_between", "trailing_margin", "critical"),
        ("marts_build.mart_portfolios", "unexpected_rows_expectation", None, "critical"),
    }
    margin = next(c for c in bad.checks if c.column == "trailing_margin")
    assert float(margin.observed_value) == 104
    assert margin.kwargs["min_value"] < 11 < margin.kwargs["max_value"] < 13
    tier = next(c for c in bad.critical_failures if c.column == "value_tier")
    assert tier.sample == ["VIP"]


def test_data_docs_index_is_built(good_raw_report: QualityReport):
    index = data_docs_index()
    assert index == good_raw_report.data_docs_index
    assert index.is_file() and index.is_relative_to(os.environ["ONETOONE_HOME"])
    assert "raw.callcenter_calls" in index.read_text()


def test_critical_failure_stops_publish_and_published_marts_keep_last_good_version(
    db_url: str, good_batch_ids: list[int], caplog: pytest.LogCaptureFixture
):
    """Write-audit-publish: what the DAG does (gate, then publish) on a good and a bad build.
    The DAG's side, publish running only when every gate passed, is in test_dag_integrity."""
    from onetoone.operations.pipeline import PublishRefused, check_quality, publish

    check_quality("marts", db_url, run_id="run-publish-good", as_of=AS_OF)
    publish(db_url)
    with psycopg.connect(db_url, autocommit=True) as conn:
        published = conn.execute(
            "select customer_key, value_tier from marts.mart_customer_value order by 1").fetchall()
        conn.execute("update marts_build.mart_customer_value set value_tier = 'VIP'")
        try:
            with pytest.raises(QualityGateFailed) as failure, caplog.at_level(
                    logging.ERROR, logger="onetoone.stages.quality"):
                check_quality("marts", db_url, run_id="run-publish-bad", as_of=AS_OF)
            # The publish task run anyway (by hand, or a retry of that task alone) publishes
            # nothing: the bad build never reaches the published marts.
            with pytest.raises(PublishRefused, match=r"run run-publish-bad\) failed 2 critical"):
                publish(db_url)
            during = conn.execute(
                "select customer_key, value_tier from marts.mart_customer_value order by 1"
            ).fetchall()
        finally:
            conn.execute("truncate marts_build.mart_customer_value")
            conn.cursor().executemany(
                "insert into marts_build.mart_customer_value values (%s, %s, %s, %s)", VALUE_ROWS
            )
        after = conn.execute(
            "select customer_key, value_tier from marts.mart_customer_value order by 1").fetchall()
    assert during == after == published
    assert published and {tier for _, tier in published} <= {"MVC", "MGC", "BZ", "other",
                                                             "prospect"}

    # The task's error says why the run stopped: each check, its table, what was seen (sample
    # values or rows), what was expected and why the rule exists.
    headline, *checks = str(failure.value).splitlines()
    assert headline.startswith("quality gate failed: layer marts, run run-publish-bad:"
                               " 2 critical check(s) failed (data docs: ")
    tier, portfolio = sorted(checks)
    assert tier.startswith(
        "  - [critical] marts_build.mart_customer_value:"
        " expect_column_values_to_be_in_set(value_tier): observed 3 of 3 rows unexpected"
        ' (100.00%); sample failing values ["VIP", "VIP", "VIP"]; expected value_set=')
    assert "(why: campaigns select on the value tiers; an unknown tier reaches nobody" in tier
    assert portfolio.startswith(
        "  - [critical] marts_build.mart_portfolios: unexpected_rows_expectation: observed 3;"
        ' sample failing rows [{"customer_key": "K1", "portfolio_id": "MVC|shoes|1",'
        ' "value_tier": "MVC", "customer_value_tier": "VIP"}')
    # ... and so does the task's log, line by line, before the error.
    logged = {r.getMessage() for r in caplog.records if r.levelno == logging.ERROR}
    assert {line.removeprefix("  - ") for line in checks} <= logged


# Every personal value of GOOD_ROWS, as the test knows them (independently of any declaration).
PERSONAL_VALUES = (
    "Ana Silva", "Silva Ana", "(11) 98765-4321", "11 98765 4321", "ana@example.com",
    "bo@example.com", '"Bo"', "c1@example.com", "c2@example.com", "Silva Souza", "1980-01-0",
)


def _everything_fails(table: str, columns: list[str]) -> TableSuite:
    """A suite on which every column of the table fails (must be null) on GOOD_ROWS."""
    expectations: list[Any] = [
        gxe.ExpectColumnValuesToBeNull(column=column, meta=warning("test: show every column"))
        for column in columns
    ]
    if table == "web_events":
        keys = ", ".join(f"payload->>'{key}' as {key}" for key in WEB_PERSONAL_KEYS)
        expectations.append(gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=f"select event_id, {keys} from {{batch}}"
                                  " where payload ? 'email'",
            meta=warning("test: rows with their payload's personal keys")))
    return TableSuite(table=f"raw.{table}", batch_scoped=True, suite=gx.ExpectationSuite(
        name=f"test.raw.{table}.every_column", expectations=expectations))


def test_personal_values_of_raw_tables_are_masked_in_audit_gx_results_and_data_docs(
    db_url: str, good_batch_ids: list[int]
):
    """Every column of every raw table holding people fails a check: the audit keeps the
    shape of the personal values next to their batch and line, GX's files keep none."""
    suites = []
    with psycopg.connect(db_url) as conn:
        for _, _, table in GOOD_ROWS:
            columns = [row[0] for row in conn.execute(
                "select column_name from information_schema.columns where table_schema = 'raw'"
                " and table_name = %s and column_name not like '\\_%%'", (table,))]
            if table in ("erp_customers", "callcenter_calls", "web_events"):
                suites.append(_everything_fails(table, columns))

    report = run_suites("raw", "run-every-column", suites, as_of=AS_OF,
                        batch_ids=good_batch_ids)

    failed = [c for c in report.checks if not c.success]
    assert failed and all(c.sample for c in failed if c.unexpected_count or c.observed_value)
    stored = json.dumps(_audit_rows(db_url, "run-every-column", "raw"), default=str)
    files = [p for p in Path(os.environ["ONETOONE_HOME"], "gx").rglob("*") if p.is_file()]
    on_disk = "".join(p.read_text(errors="replace") for p in files)
    assert "run-every-column" in on_disk  # the results and pages were written
    for value in PERSONAL_VALUES:
        assert value not in stored, value
        assert value not in on_disk, value
        assert value not in "\n".join(c.describe() for c in report.checks), value
    email = next(c for c in failed if c.table == "raw.callcenter_calls" and c.column == "email")
    assert email.sample == [{"_batch_id": good_batch_ids[0], "_source_file":
                             "callcenter_calls.test", "_line_number": 1,
                             "email": "aaa@aaaaaaa.aaa"}]
    names = next(c for c in failed if c.table == "raw.callcenter_calls"
                 and c.column == "caller_name")
    assert names.sample[0]["caller_name"] == "Aaa\u2423Aaaaa"
    customers = next(c for c in failed if c.table == "raw.erp_customers" and c.column == "email")
    assert {row["customer_id"] for row in customers.sample} == {"C1", "C2"}
    rows = next(c for c in failed if c.expectation_type == "unexpected_rows_expectation")
    assert rows.sample == [{"event_id": "E1", "email": "aa@aaaaaaa.aaa", "first_name": "Aa",
                            "last_name": None, "phone": None, "birth_date": None}]


def test_an_aggregate_rule_on_a_personal_column_is_refused(db_url: str):
    suite = TableSuite(table="raw.erp_customers", batch_scoped=True, suite=gx.ExpectationSuite(
        name="test.raw.erp_customers.aggregate", expectations=[gxe.ExpectColumnMinToBeBetween(
            column="birth_date", min_value="1900-01-01", meta=warning("test"))]))
    with pytest.raises(ValueError, match="personal column birth_date"):
        run_suites("raw", "run-aggregate", [suite], as_of=AS_OF, batch_ids=[])


def test_data_docs_read_offline_and_say_which_severity_failed(db_url: str):
    """A run with only a warning failed: the index (static HTML, no network asset) says
    "passed with 1 warning(s)", the validation page lists the failed check by severity."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        batch = _insert_batch(conn, "callcenter", "calls", "callcenter_calls", [
            {**GOOD_ROWS[("callcenter", "calls", "callcenter_calls")][0],
             "call_id": "CL00000123", "email": " spaced@example.com"}])
    report = run_layer("raw", "run-warning-only", as_of=AS_OF, batch_ids=[batch])
    assert report.passed and len(report.warning_failures) == 1

    index = data_docs_index().read_text()
    assert not re.search(r"""(src|href)=["']https?://""", index), "index loads from network"
    assert "<script" not in index
    row = next(line for line in index.split("<tr>") if "run-warning-only" in line
               and "raw.callcenter_calls" in line)
    assert "passed with 1 warning(s)" in row and "Failed" not in row
    page = re.search(r'href="([^"]+)"', row)
    assert page is not None
    html = (data_docs_index().parent / page[1]).read_text()
    assert not re.search(r"""<(link|script|img)\b[^>]*(src|href)=["']https?://""", html)
    assert not re.search(r"url\(\s*[\"']?https?://", html)
    assert "passed with 1 warning(s)" in html and "Failed checks by severity" in html
    assert "spaced@example.com" not in html
    # each rule's severity and why are on its suite's page, linked from the index
    suite_page = re.search(r'href="(expectations/raw/callcenter_calls.html)"', index)
    assert suite_page is not None
    suite_html = (data_docs_index().parent / suite_page[1]).read_text()
    assert "warning: a malformed email cannot be used" in suite_html
    assert not re.search(r"""<(link|script|img)\b[^>]*(src|href)=["']https?://""", suite_html)


def test_failing_values_with_spaces_show_them_in_data_docs(db_url: str):
    """A table without personal columns keeps its failing values; a padded one must not look
    like a valid one."""
    order = {**GOOD_ROWS[("erp", "orders", "erp_orders")][0], "order_id": "O77",
             "channel": " web"}
    with psycopg.connect(db_url, autocommit=True) as conn:
        batch = _insert_batch(conn, "erp", "orders", "erp_orders", [order])
    report = run_layer("raw", "run-padded-value", as_of=AS_OF, batch_ids=[batch])
    [channel] = [c for c in report.critical_failures if c.column == "channel"]
    assert channel.sample == [" web"]
    [page] = [line for line in data_docs_index().read_text().split("<tr>")
              if "run-padded-value" in line and "raw.erp_orders" in line]
    link = re.search(r'href="([^"]+)"', page)
    assert link is not None and "failed: 1 critical" in page
    html = (data_docs_index().parent / link[1]).read_text()
    assert '<div class="show-scrollbars">\u2423web</div>' in html


FUTURE = datetime(2024, 7, 15, 8, 0, tzinfo=UTC)  # after AS_OF
# Per raw table: rows that each break critical rules (the good row with fields replaced), and the
# critical rules they must fail. With the ledger claiming one row more than landed, the row count
# rule fails too. Not covered here: the column set rules (they need another table shape).
CRITICAL_CASES: dict[tuple[str, str, str], tuple[list[dict[str, Any]], set[tuple[str, str]]]] = {
    ("web", "events", "web_events"): (
        [{"event_id": None}, {"event_type": None}, {"occurred_at": None},
         {"occurred_at": FUTURE}, {"event_type": "teleport"},
         {"event_type": "consent_change", "payload": Jsonb({"channel": "pigeon"})}],
        {("expect_column_values_to_not_be_null", "event_id"),
         ("expect_column_values_to_not_be_null", "event_type"),
         ("expect_column_values_to_not_be_null", "occurred_at"),
         ("expect_column_values_to_be_between", "occurred_at"),
         ("expect_column_values_to_be_in_set", "event_type"),
         ("unexpected_rows_expectation", None)},
    ),
    ("erp", "orders", "erp_orders"): (
        [{"order_id": None}, {"customer_id": None}, {"ordered_at": None}, {"updated_at": None},
         {"ordered_at": FUTURE, "updated_at": FUTURE}, {"channel": "fax"}, {"status": "lost"}],
        {("expect_column_values_to_not_be_null", "order_id"),
         ("expect_column_values_to_not_be_null", "customer_id"),
         ("expect_column_values_to_not_be_null", "ordered_at"),
         ("expect_column_values_to_not_be_null", "updated_at"),
         ("expect_column_values_to_be_between", "ordered_at"),
         ("expect_column_values_to_be_between", "updated_at"),
         ("expect_column_values_to_be_in_set", "channel"),
         ("expect_column_values_to_be_in_set", "status")},
    ),
    ("erp", "products", "erp_products"): (
        [{"product_id": None}, {"updated_at": None}, {"updated_at": FUTURE},
         {"unit_price": -1}, {"unit_cost": -1}],
        {("expect_column_values_to_not_be_null", "product_id"),
         ("expect_column_values_to_not_be_null", "updated_at"),
         ("expect_column_values_to_be_between", "updated_at"),
         ("expect_column_values_to_be_between", "unit_price"),
         ("expect_column_values_to_be_between", "unit_cost")},
    ),
    ("erp", "customers", "erp_customers"): (
        [{"customer_id": None}, {"updated_at": None}, {"updated_at": FUTURE},
         {"created_at": FUTURE}],
        {("expect_column_values_to_not_be_null", "customer_id"),
         ("expect_column_values_to_not_be_null", "updated_at"),
         ("expect_column_values_to_be_between", "updated_at"),
         ("expect_column_values_to_be_between", "created_at")},
    ),
}


def test_each_critical_raw_rule_fails_on_a_row_that_breaks_it(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as conn:
        batch_ids = []
        for (source, entity, table), (changes, _) in CRITICAL_CASES.items():
            good = GOOD_ROWS[(source, entity, table)][0]
            rows = [{**good, **change} for change in changes]
            batch_ids.append(_insert_batch(conn, source, entity, table, rows, len(rows) + 1))
    try:
        report = run_layer("raw", "run-critical", as_of=AS_OF, batch_ids=batch_ids)
    finally:
        # The bad rows would change what later tests of the module read (the marts' margin
        # is reconciled against the ERP's orders).
        with psycopg.connect(db_url, autocommit=True) as conn:
            for _, _, table in CRITICAL_CASES:
                conn.execute(f"delete from raw.{table} where _batch_id = any(%s)", (batch_ids,))
            conn.execute("delete from raw.load_batches where batch_id = any(%s)", (batch_ids,))

    failed = {(suite, kind, column) for suite, kind, column, severity in _failures(report)
              if severity == "critical"}
    expected = {
        (f"raw.{table}", kind, column)
        for (_, _, table), (_, rules) in CRITICAL_CASES.items()
        for kind, column in rules | {("expect_table_row_count_to_equal", None)}
    }
    assert failed == expected
    with pytest.raises(QualityGateFailed):
        report.raise_on_critical()


def test_unknown_source_and_empty_cluster_fail_the_identity_gate(db_url: str):
    # Not null key and one key per record are also the table's constraints (identity DDL).
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(
            """insert into identity.customer_keys (source, source_record_id, customer_key,
                   cluster_size, model_version, assigned_at)
               values ('pos', 'P1', 'KPOS', 1, 'test', now()),
                      ('web', 'W_EMPTY', 'KEMPTY', 0, 'test', now())""")
        try:
            bad = run_layer("identity", "run-identity-source", as_of=AS_OF)
        finally:
            conn.execute("delete from identity.customer_keys"
                         " where customer_key in ('KPOS', 'KEMPTY')")
    keys = "identity.customer_keys"
    critical = {(c.table, c.expectation_type, c.column) for c in bad.critical_failures}
    # A cluster of size 0 holding a record also disagrees with its record count.
    assert critical == {(keys, "expect_column_values_to_be_in_set", "source"),
                        (keys, "expect_column_values_to_be_between", "cluster_size"),
                        (keys, "unexpected_rows_expectation", None)}


def test_quintile_out_of_range_and_a_customer_without_a_key_fail_the_marts_gate(
    db_url: str, good_batch_ids: list[int]
):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("update marts_build.mart_customer_value set quintile = 6"
                     " where customer_key = 'K2'")
        conn.execute("insert into marts_build.dim_customers (customer_key) values ('K4')")
        try:
            bad = run_layer("marts", "run-marts-quintile", as_of=AS_OF)
        finally:
            conn.execute("update marts_build.mart_customer_value set quintile = 4"
                         " where customer_key = 'K2'")
            conn.execute("delete from marts_build.dim_customers where customer_key = 'K4'")
    critical = {(c.table, c.expectation_type, c.column) for c in bad.critical_failures}
    assert critical == {
        ("marts_build.mart_customer_value", "expect_column_values_to_be_between", "quintile"),
        ("marts_build.dim_customers", "expect_table_row_count_to_equal", None)}


def test_a_household_that_is_not_its_members_fails_the_marts_gate(db_url: str):
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("update marts_build.dim_customers set household_key = 'HH-1'"
                     " where customer_key = 'K3'")
        conn.execute("update marts_build.dim_households set best_value_tier = 'VIP'")
        try:
            bad = run_layer("marts", "run-marts-households", as_of=AS_OF)
        finally:
            conn.execute("update marts_build.dim_customers set household_key = null"
                         " where customer_key = 'K3'")
            conn.execute("update marts_build.dim_households set best_value_tier = 'MVC'")
    households = "marts_build.dim_households"
    assert {(c.table, c.expectation_type, c.column) for c in bad.critical_failures} == {
        (households, "unexpected_rows_expectation", None),
        (households, "expect_column_values_to_be_in_set", "best_value_tier")}
    members = next(c for c in bad.critical_failures
                   if c.expectation_type == "unexpected_rows_expectation")
    assert members.sample == [{"household_key": "HH-1", "members": 2, "customers": 3}]
