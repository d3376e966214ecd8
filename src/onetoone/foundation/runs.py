"""What a run is called: the data interval it covers."""

from __future__ import annotations

from datetime import datetime


def interval_run_id(until: datetime) -> str:
    """The id under which a run's rows are written: the data interval it covers, not the
    clock. Rerunning a day (a retry, `airflow dags test`, `make demo` again) replaces that day's
    review queue, quality results and value model run instead of adding another copy."""
    return f"interval__{until.date().isoformat()}"
