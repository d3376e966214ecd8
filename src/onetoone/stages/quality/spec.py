"""What an expectations module (``expectations/<layer>.py``) declares.

A layer module defines ``SUITES: list[TableSuite]`` and optionally ``PARAMETER_QUERIES``: SQL
queries returning one row each, whose columns become suite parameters (``{"$PARAMETER": name}``).
They are run on the warehouse with ``%(as_of)s`` (timestamptz), ``%(as_of_date)s`` (its date,
as dbt reads its ``as_of`` var) and ``%(batch_ids)s`` (bigint[] or null) bound, so a suite can
compare against values known only at run time (ledger counts, ERP totals) while staying static
code. ``as_of`` is always available as a parameter too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from great_expectations import ExpectationSuite

SEVERITIES = ("critical", "warning")
BATCH_COLUMN = "_batch_id"


def critical(why: str) -> dict[str, str]:
    """Expectation meta for a rule whose failure stops the run before marts are published."""
    return {"severity": "critical", "why": why}


def warning(why: str) -> dict[str, str]:
    """Expectation meta for a rule whose failure is recorded but does not stop the run."""
    return {"severity": "warning", "why": why}


@dataclass(frozen=True)
class TableSuite:
    """A suite and the warehouse table (``schema.table``) it validates."""

    table: str
    suite: ExpectationSuite
    # Validate only the rows of the batches loaded in this run (raw tables carry ``_batch_id``).
    batch_scoped: bool = False

    def query(self, batch_ids: list[int] | None) -> str:
        """The SELECT GX validates: the whole table, or only this run's batches."""
        select = f"select * from {self.table}"
        if not self.batch_scoped or batch_ids is None:
            return select
        ids = ", ".join(str(int(batch_id)) for batch_id in batch_ids)
        return f"{select} where {BATCH_COLUMN} = any(array[{ids}]::bigint[])"
