"""Run one layer's suites: a GX checkpoint, Data Docs, audit rows, and a report for the gate."""

from __future__ import annotations

import importlib.util
import logging
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import unquote, urlparse

import psycopg

from onetoone.foundation.config import EXPECTATIONS_DIR, paths, warehouse_url
from onetoone.stages.quality.audit import SuiteRun, record
from onetoone.stages.quality.context import DOCS_SITE, layer_checkpoint, open_context
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
    warehouse = warehouse or warehouse_url()
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    module = load_layer(layer)
    suites: list[TableSuite] = module.SUITES
    parameters = {
        "as_of": as_of,
        **_query_parameters(warehouse, getattr(module, "PARAMETER_QUERIES", ()), as_of,
                            batch_ids),
    }

    from great_expectations.core.run_identifier import RunIdentifier

    with open_context(warehouse) as context:
        checkpoint = layer_checkpoint(context, layer, suites, batch_ids)
        started_at = datetime.now(UTC)
        clock = time.monotonic()
        result = checkpoint.run(
            expectation_parameters=parameters,
            run_id=RunIdentifier(run_name=run_id, run_time=started_at),
        )
        log.info("checkpoint %s ran in %.2f s", layer, time.monotonic() - clock)
        docs_pages = {
            identifier: _docs_page(context, identifier) for identifier in result.run_results
        }

    tables = {table_suite.suite.name: table_suite.table for table_suite in suites}
    checks: list[CheckResult] = []
    suite_runs: list[SuiteRun] = []
    for identifier, validation in result.run_results.items():
        table = tables[validation.suite_name]
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
            )
        )
        checks.extend(
            _check_result(validation.suite_name, table, expectation_result.to_json_dict())
            for expectation_result in validation.results
        )

    report = QualityReport(
        run_id=run_id,
        layer=layer,
        as_of=as_of,
        suites=tuple(tables),
        checks=tuple(checks),
        data_docs_index=data_docs_index(),
    )
    record(warehouse, report, suite_runs, batch_ids)
    log.info(report.summary())
    for check in report.warning_failures:
        log.warning(check.describe())
    for check in report.critical_failures:
        log.error(check.describe())
    return report


def load_layer(layer: str) -> ModuleType:
    """Import ``expectations/<layer>.py`` afresh (suites are mutated when saved) and check that
    every expectation states its severity and why. GX's own severity field is set to match, and
    its notes (shown in Data Docs) to the why."""
    from great_expectations.expectations.metadata_types import FailureSeverity

    if layer not in LAYERS:
        raise ValueError(f"unknown quality layer {layer!r}; expected one of {LAYERS}")
    path = EXPECTATIONS_DIR / f"{layer}.py"
    spec = importlib.util.spec_from_file_location(f"onetoone_expectations_{layer}", path)
    if spec is None or spec.loader is None:
        raise FileNotFoundError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for table_suite in module.SUITES:
        for expectation in table_suite.suite.expectations:
            meta = expectation.meta or {}
            if meta.get("severity") not in SEVERITIES or not meta.get("why"):
                raise ValueError(
                    f"{path.name}: {table_suite.suite.name}: {type(expectation).__name__} needs"
                    f" meta severity in {SEVERITIES} and a why, got {meta}"
                )
            expectation.severity = FailureSeverity(meta["severity"])
            expectation.notes = f"{meta['severity']}: {meta['why']}"
    return module


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
