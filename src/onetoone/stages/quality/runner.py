"""Run one layer's suites: a GX checkpoint, Data Docs, audit rows, and a report for the gate."""

from __future__ import annotations

import importlib.util
import logging
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg

from onetoone.foundation.config import BUILD_SCHEMA, EXPECTATIONS_DIR, paths, warehouse_url
from onetoone.runtime.dbt import mart_columns
from onetoone.stages.quality.audit import SuiteRun, record
from onetoone.stages.quality.context import (
    DOCS_SITE,
    gx_lock,
    layer_checkpoints,
    open_context,
)
from onetoone.stages.quality.docs import finish_data_docs
from onetoone.stages.quality.masking import TablePrivacy, masked_sample, table_privacy
from onetoone.stages.quality.report import SAMPLE_SIZE, CheckResult, QualityReport
from onetoone.stages.quality.spec import SEVERITIES, TableSuite

LAYERS = ("raw", "identity", "marts")

log = logging.getLogger(__name__)


def data_docs_index() -> Path:
    """The Data Docs home page (built by every run; open it in a browser)."""
    return paths().data_docs / "index.html"


def run_layer(
    layer: str,
    run_id: str,
    *,
    as_of: datetime,
    batch_ids: list[int] | None = None,
    warehouse: str | None = None,
) -> QualityReport:
    """Validate a layer, publish Data Docs, record every result in ``audit``; never raises on
    failed checks (call ``raise_on_critical()`` on the report for the gate).

    ``as_of`` (timezone-aware) is the run's reference time for every date rule. ``batch_ids``
    limits batch-scoped suites (raw) to the rows those batches loaded; None validates whole
    tables. ``warehouse`` is a libpq URI (default: the configured warehouse; Airflow passes the
    one of its connection).
    """
    module = load_layer(layer)
    return run_suites(
        layer, run_id, module.SUITES, getattr(module, "PARAMETER_QUERIES", ()),
        as_of=as_of, batch_ids=batch_ids, warehouse=warehouse,
    )


def run_suites(
    layer: str,
    run_id: str,
    suites: list[TableSuite],
    parameter_queries: tuple[str, ...] = (),
    *,
    as_of: datetime,
    batch_ids: list[int] | None = None,
    warehouse: str | None = None,
) -> QualityReport:
    """``run_layer`` on suites given by the caller (checked as ``load_layer`` checks them)."""
    warehouse = warehouse or warehouse_url()
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    _apply_severity(suites, f"layer {layer}")
    parameters = {
        "as_of": as_of,
        **_query_parameters(warehouse, parameter_queries, as_of, batch_ids),
    }
    privacy = _privacy(warehouse, suites)
    _refuse_observed_personal_values(suites, privacy)
    masked = {table: p.locator for table, p in privacy.items() if p.masked}

    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
    )

    with open_context(warehouse) as context:
        checkpoints = layer_checkpoints(context, layer, suites, batch_ids, masked)
        started_at = datetime.now(UTC)
        clock = time.monotonic()
        run_results: dict[Any, Any] = {}
        for checkpoint in checkpoints:
            result = checkpoint.run(
                expectation_parameters=parameters,
                run_id=RunIdentifier(run_name=run_id, run_time=started_at),
            )
            run_results.update(result.run_results)
        log.info("checkpoints of %s ran in %.2f s", layer, time.monotonic() - clock)
        # The run's validation pages and its suites' pages (where each rule's severity and why
        # are shown), as GX's UpdateDataDocsAction builds them.
        context.build_data_docs(site_names=[DOCS_SITE], resource_identifiers=[
            *run_results,
            *(ExpectationSuiteIdentifier(name=suite.suite.name) for suite in suites),
        ])
        docs_pages = {identifier: _docs_page(context, identifier) for identifier in run_results}

    by_suite = {table_suite.suite.name: table_suite for table_suite in suites}
    checks: list[CheckResult] = []
    suite_runs: list[SuiteRun] = []
    with psycopg.connect(warehouse) as conn:
        for identifier, validation in run_results.items():
            table_suite = by_suite[validation.suite_name]
            table = table_suite.table
            statistics = validation.statistics
            suite_runs.append(
                SuiteRun(
                    suite=validation.suite_name,
                    table=table,
                    started_at=started_at,
                    success=validation.success,
                    evaluated=statistics["evaluated_expectations"],
                    successful=statistics["successful_expectations"],
                    unsuccessful=statistics["unsuccessful_expectations"],
                    data_docs_path=docs_pages[identifier],
                    rows_checked=_rows_checked(conn, table_suite.query(batch_ids)),
                )
            )
            for expectation_result in validation.results:
                result_json = expectation_result.to_json_dict()
                check = _check_result(validation.suite_name, table, result_json)
                if table in masked and not check.success:
                    check = replace(check, sample=_read_masked_sample(
                        conn, table_suite.query(batch_ids), result_json, privacy[table], check))
                checks.append(check)

    report = QualityReport(
        run_id=run_id,
        layer=layer,
        as_of=as_of,
        suites=tuple(by_suite),
        checks=tuple(checks),
        data_docs_index=data_docs_index(),
        suites_without_data=tuple(run.suite for run in suite_runs if run.rows_checked == 0),
    )
    record(warehouse, report, suite_runs, batch_ids)
    with gx_lock(), psycopg.connect(warehouse) as conn:
        finish_data_docs(conn, paths().data_docs, report, suite_runs)
    log.info(report.summary())
    for check in report.warning_failures:
        log.warning(check.describe())
    for check in report.critical_failures:
        log.error(check.describe())
    return report


def _rows_checked(conn: psycopg.Connection, suite_query: str) -> int:
    row = conn.execute(f"select count(*) from ({suite_query}) as checked").fetchone()
    return int(row[0]) if row else 0


def _read_masked_sample(
    conn: psycopg.Connection, batch_query: str, result: dict[str, Any], privacy: TablePrivacy,
    check: CheckResult,
) -> list[Any]:
    """The sample is evidence, not the verdict: if it cannot be read back, the check's result
    still counts (and the error's text, which may quote data, stays out of the log)."""
    try:
        with conn.transaction():
            return masked_sample(conn, batch_query, result, privacy, SAMPLE_SIZE)
    except psycopg.Error as error:
        log.warning("%s: %s: no sample of the failing rows (%s)", check.table, check.check_name,
                    type(error).__name__)
        return []


def load_layer(layer: str) -> ModuleType:
    """Import ``expectations/<layer>.py`` afresh (suites are mutated when saved) and check that
    every expectation states its severity and why."""
    if layer not in LAYERS:
        raise ValueError(f"unknown quality layer {layer!r}; expected one of {LAYERS}")
    path = EXPECTATIONS_DIR / f"{layer}.py"
    spec = importlib.util.spec_from_file_location(f"onetoone_expectations_{layer}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _apply_severity(module.SUITES, path.name)
    return module


def _apply_severity(suites: list[TableSuite], where: str) -> None:
    """Every expectation needs a severity and a why in its meta; GX's own severity field is set
    to match, and its notes (shown on the suite's Data Docs page) to both."""
    from great_expectations.expectations.metadata_types import FailureSeverity

    for table_suite in suites:
        for expectation in table_suite.suite.expectations:
            meta = expectation.meta or {}
            if meta.get("severity") not in SEVERITIES or not meta.get("why"):
                raise ValueError(
                    f"{where}: {table_suite.suite.name}: {type(expectation).__name__} needs"
                    f" meta severity in {SEVERITIES} and a why, got {meta}"
                )
            expectation.severity = FailureSeverity(meta["severity"])
            expectation.notes = f"{meta['severity']}: {meta['why']}"


def _privacy(warehouse: str, suites: list[TableSuite]) -> dict[str, TablePrivacy]:
    """Each validated table's personal columns and locators, from their declarations."""
    tables = [table_suite.table for table_suite in suites]
    with psycopg.connect(warehouse) as conn:
        rows = conn.execute(
            "select table_schema || '.' || table_name, array_agg(column_name::text)"
            " from information_schema.columns"
            " where table_schema || '.' || table_name = any(%s) group by 1",
            (tables,),
        ).fetchall()
    columns = dict(rows)
    marts = mart_columns() if any(t.startswith(f"{BUILD_SCHEMA}.") for t in tables) else {}
    return {table: table_privacy(table, columns.get(table, []), marts) for table in tables}


def _refuse_observed_personal_values(
    suites: list[TableSuite], privacy: dict[str, TablePrivacy]
) -> None:
    """An aggregate rule (min, max, distinct values...) reports its observed value, which GX
    keeps in any result format but BOOLEAN_ONLY: on a personal column it would store personal
    data. Row-by-row (map) rules and unexpected-rows rules are masked."""
    from great_expectations.expectations.expectation import (
        ColumnAggregateExpectation,
        ColumnMapExpectation,
        ColumnPairMapExpectation,
        MulticolumnMapExpectation,
    )

    maps = (ColumnMapExpectation, ColumnPairMapExpectation, MulticolumnMapExpectation)
    for table_suite in suites:
        table_privacy_ = privacy[table_suite.table]
        for expectation in table_suite.suite.expectations:
            column = getattr(expectation, "column", None)
            if (isinstance(expectation, ColumnAggregateExpectation)
                    and not isinstance(expectation, maps)
                    and isinstance(column, str) and table_privacy_.is_personal(column)):
                raise ValueError(
                    f"{table_suite.suite.name}: {type(expectation).__name__} on personal column"
                    f" {column} would keep its observed value in the results; check it row by"
                    " row (a column values rule) instead"
                )


def _query_parameters(
    warehouse: str, queries: tuple[str, ...], as_of: datetime, batch_ids: list[int] | None
) -> dict[str, Any]:
    """Run the layer's parameter queries; each returns one row whose columns are parameters."""
    values: dict[str, Any] = {}
    if not queries:
        return values
    with psycopg.connect(warehouse) as conn:
        for query in queries:
            cursor = conn.execute(
                query, {"as_of": as_of, "as_of_date": as_of.date(), "batch_ids": batch_ids}
            )
            row = cursor.fetchone()
            if row is None or cursor.description is None:
                raise ValueError(f"parameter query returned no row: {query}")
            values.update(zip((column.name for column in cursor.description), row, strict=True))
    missing = sorted(name for name, value in values.items() if value is None)
    if missing:
        # A null bound would silently disable the rule using it.
        raise ValueError(f"suite parameters without a value: {missing}")
    return values


def _docs_page(context: Any, identifier: Any) -> str | None:
    urls = context.get_docs_sites_urls(resource_identifier=identifier, site_name=DOCS_SITE)
    url = urls[0]["site_url"] if urls else None
    return unquote(urlparse(url).path) if url else None


def _check_result(suite: str, table: str, result: dict[str, Any]) -> CheckResult:
    """Flatten one GX expectation result (its JSON form) into what the audit keeps."""
    config = result["expectation_config"]
    details = result.get("result") or {}
    kwargs = {key: value for key, value in config["kwargs"].items() if key != "batch_id"}
    column = kwargs.get("column") or ", ".join(kwargs.get("column_list", [])) or None
    return CheckResult(
        suite=suite,
        table=table,
        expectation_type=config["type"],
        column=column,
        severity=config["meta"]["severity"],
        why=config["meta"]["why"],
        success=bool(result["success"]),
        observed_value=details.get("observed_value"),
        element_count=details.get("element_count"),
        unexpected_count=details.get("unexpected_count"),
        unexpected_percent=details.get("unexpected_percent"),
        sample=_sample(details),
        kwargs=kwargs,
        exception_message=_exception_message(result.get("exception_info") or {}),
    )


def _sample(details: dict[str, Any]) -> list[Any]:
    """Failing values of a column rule, or failing rows of an unexpected-rows rule."""
    rows = (details.get("details") or {}).get("unexpected_rows") or []
    return (details.get("partial_unexpected_list") or rows)[:SAMPLE_SIZE]


def _exception_message(info: dict[str, Any]) -> str | None:
    """GX gives one ``exception_info`` dict, or one per failed metric."""
    infos = [info] if "raised_exception" in info else list(info.values())
    messages = [i.get("exception_message") for i in infos if i.get("raised_exception")]
    return "; ".join(str(m) for m in messages) or None
