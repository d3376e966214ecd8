"""Pulling the three extracts into the raw layer, idempotently, keeping every row it is given."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import psycopg

from onetoone.foundation.config import SOURCES
from onetoone.stages.ingest.erp import extract_erp
from onetoone.stages.ingest.files import CALLCENTER_CALLS, WEB_EVENTS, load_files
from onetoone.stages.ingest.ledger import BatchResult, ensure_schema
from onetoone.stages.ingest.quarantine import reload_reprocessed

__all__ = ["IngestSummary", "ensure_schema", "ingest_source"]


@dataclass
class IngestSummary:
    source: str
    batches: list[BatchResult] = field(default_factory=list)

    @property
    def batch_ids(self) -> list[int]:
        """Batches written by this run (skipped ones were loaded earlier and are unchanged)."""
        return [b.batch_id for b in self.batches if b.status != "skipped"]

    def totals(self) -> dict[str, int]:
        return {
            "batches": len(self.batch_ids),
            "skipped": sum(b.status == "skipped" for b in self.batches),
            "refused": sum(b.status == "refused" for b in self.batches),
            "rows_read": sum(b.rows_read for b in self.batches),
            "rows_loaded": sum(b.rows_loaded for b in self.batches),
            "rows_quarantined": sum(b.rows_quarantined for b in self.batches),
        }

    def as_dict(self) -> dict:
        return {"source": self.source, "batch_ids": self.batch_ids, **self.totals()}


def ingest_source(
    source: str, *, warehouse: psycopg.Connection, until: datetime, landing: Path | None = None,
    erp: psycopg.Connection | None = None, run_id: str | None = None,
) -> IngestSummary:
    """Load one source's extracts due up to ``until`` (the end of the data interval).

    ``warehouse`` must be in autocommit mode: every batch is its own transaction, so a crash
    keeps the batches already loaded. ``erp`` reads the ERP source (the erp source only)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}; expected one of {', '.join(SOURCES)}")
    if not warehouse.autocommit:
        raise ValueError("ingest_source needs an autocommit connection (a transaction per batch)")
    if source == "erp":
        if erp is None:
            raise ValueError("the ERP source needs a connection to the ERP database")
        batches = extract_erp(warehouse, erp, until=until, run_id=run_id,
                              reload_reprocessed=reload_reprocessed)
    else:
        if landing is None:
            raise ValueError(f"the {source} source needs the landing folder")
        spec = CALLCENTER_CALLS if source == "callcenter" else WEB_EVENTS
        batches = load_files(warehouse, landing, spec, until=until, run_id=run_id,
                             reload_reprocessed=reload_reprocessed)
    return IngestSummary(source, batches)
