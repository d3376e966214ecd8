"""Data quality with Great Expectations: suites in ``expectations/``, results kept for auditors.

``run_layer`` validates a layer (raw, identity, marts), refreshes Data Docs and writes every
expectation result to the warehouse's ``audit`` schema; the returned report's
``raise_on_critical()`` is the gate that stops a run before marts are published.
``record_dbt_tests`` stores a dbt invocation's test results in ``audit.dbt_test_results``.
Great Expectations is imported only when a layer runs, so importing this package stays cheap.
"""

from onetoone.stages.quality.audit import ensure_schema
from onetoone.stages.quality.dbt_results import record_dbt_tests
from onetoone.stages.quality.report import CheckResult, QualityGateFailed, QualityReport
from onetoone.stages.quality.runner import LAYERS, data_docs_index, run_layer

__all__ = [
    "LAYERS",
    "CheckResult",
    "QualityGateFailed",
    "QualityReport",
    "data_docs_index",
    "ensure_schema",
    "record_dbt_tests",
    "run_layer",
]
