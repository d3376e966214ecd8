"""The outcome of one layer's checks, and the gate that stops a run on critical failures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

SAMPLE_SIZE = 10  # failing values shown per check in logs and errors


@dataclass(frozen=True)
class CheckResult:
    """One expectation's result on one table, flattened from GX's validation result."""

    suite: str
    table: str
    expectation_type: str
    column: str | None
    severity: str
    why: str
    success: bool
    observed_value: Any
    element_count: int | None
    unexpected_count: int | None
    unexpected_percent: float | None
    sample: list[Any]
    kwargs: dict[str, Any]
    exception_message: str | None = None

    @property
    def check_name(self) -> str:
        return f"{self.expectation_type}({self.column})" if self.column else self.expectation_type

    def describe(self) -> str:
        """One line for logs: which check, where, what was seen and what was expected."""
        if self.exception_message:
            seen = f"error: {self.exception_message.splitlines()[0]}"
        elif self.observed_value is not None:
            seen = f"observed {_short(self.observed_value)}"
        else:
            seen = (
                f"observed {self.unexpected_count} of {self.element_count} rows unexpected"
                f" ({self.unexpected_percent or 0:.2f}%)"
            )
        if self.sample:
            kind = "rows" if isinstance(self.sample[0], dict) else "values"
            seen += f"; sample failing {kind} {_short(self.sample[:SAMPLE_SIZE])}"
        expected = ", ".join(
            f"{key}={_short(value)}" for key, value in self.kwargs.items() if key != "column"
        )
        return (
            f"[{self.severity}] {self.table}: {self.check_name}: {seen}; expected {expected}"
            f" (why: {self.why})"
        )


class QualityGateFailed(Exception):
    """Critical checks failed: the run must stop before marts are published."""

    def __init__(self, report: QualityReport) -> None:
        self.report = report
        failures = report.critical_failures
        lines = [
            f"quality gate failed: layer {report.layer}, run {report.run_id}: "
            f"{len(failures)} critical check(s) failed (data docs: {report.data_docs_index})",
            *(f"  - {check.describe()}" for check in failures),
        ]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class QualityReport:
    """All check results of one layer in one run."""

    run_id: str
    layer: str
    as_of: datetime
    suites: tuple[str, ...]
    checks: tuple[CheckResult, ...]
    data_docs_index: Path
    # Suites whose query returned no rows: their rules passed vacuously, so they count as
    # "no data", not as passed.
    suites_without_data: tuple[str, ...] = ()

    @property
    def passed_count(self) -> int:
        return sum(check.success for check in self.checks)

    @property
    def critical_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == "critical"]

    @property
    def warning_failures(self) -> list[CheckResult]:
        return [c for c in self.checks if not c.success and c.severity == "warning"]

    @property
    def passed(self) -> bool:
        """True when no critical check failed (warnings are recorded, not blocking)."""
        return not self.critical_failures

    def summary(self) -> str:
        return (
            f"quality {self.layer} (run {self.run_id}, as_of {self.as_of.isoformat()}): "
            f"{len(self.checks)} checks on {len(self.suites)} suites, {self.passed_count} passed, "
            f"{len(self.critical_failures)} critical failed, "
            f"{len(self.warning_failures)} warning failed"
            + (f"; no data for {', '.join(self.suites_without_data)}"
               if self.suites_without_data else "")
        )

    def raise_on_critical(self) -> None:
        if not self.passed:
            raise QualityGateFailed(self)


def _short(value: Any, limit: int = 300) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
