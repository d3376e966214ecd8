"""`generate`: write the landing zone of docs/data-contracts.md section 1 for one population."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from onetoone.foundation.config import open_private, private_dir
from onetoone.generate.callcenter import build_callcenter
from onetoone.generate.erp import build_erp
from onetoone.generate.output import write_csv, write_daily
from onetoone.generate.period import Period
from onetoone.generate.population import SINGLE, Population, build_population
from onetoone.generate.text import Strings, take
from onetoone.generate.web import build_web

# How each broken kind appears in the files, for whoever checks the quarantine.
BROKEN_MODES = {
    "erp": {"negative_value": "corrupted in place: order line quantity or unit_price negated",
            "unknown_product": "corrupted in place: order line product_id not in products"},
    "callcenter": {
        "malformed_line": "extra line right after a call: a garbled copy of it, same call_id "
                          "(unquoted comma in caller_name, unbalanced quote, or the last three "
                          "fields missing)",
        "bad_called_at": "corrupted in place: called_at unparsable (day-first, month 13, "
                         "hour 25 or N/A)",
        "negative_duration": "corrupted in place: duration_seconds negated",
        "satisfaction_out_of_range": "corrupted in place: satisfaction 0, 6, 7, 9 or 10",
        "cp1252_file": "every line of one day's file is encoded in cp1252 instead of UTF-8; "
                       "the rows are otherwise valid",
    },
    "web": {"not_json": "extra line that is not JSON (proxy error page, log line)",
            "truncated_json": "corrupted in place: an event line cut short",
            "bad_occurred_at": "corrupted in place: occurred_at unparsable",
            "missing_event_id": "corrupted in place: the event_id key removed"},
}


@dataclass(frozen=True)
class GenerationReport:
    """What one run wrote (the manifest holds the same counts, without the timing)."""

    out_dir: Path
    rows: dict[str, int]  # data lines per file kind (erp_orders, web_events, ...), broken included
    broken: dict[str, dict[str, int]]  # broken rows per source (erp, callcenter, web) and kind
    files: dict[str, int]  # files written per folder
    elapsed_seconds: float

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


def _clear(out: Path) -> None:
    """Remove the files of an earlier run, so a shorter period leaves no stale days."""
    for pattern in ("callcenter/calls_*.csv", "web/events_*.ndjson", "erp/*.csv",
                    "truth/records.csv", "manifest.json"):
        for path in out.glob(pattern):
            path.unlink()


def generate(out_dir: Path, customers: int, seed: int, *, days: int = 730,
             end_date: date = date(2026, 10, 31), broken_share: float = 0.005
             ) -> GenerationReport:
    """Write ERP, call-center and web extracts of `customers` people, the ground truth and
    a manifest. The same arguments always give byte-identical files."""
    if customers < 1 or days < 1 or not 0 <= broken_share < 0.5:
        raise ValueError("need customers >= 1, days >= 1 and 0 <= broken_share < 0.5")
    started = time.perf_counter()
    out = Path(out_dir)
    private_dir(out)
    _clear(out)
    period = Period.ending(end_date, days)
    rng_people, rng_erp, rng_calls, rng_web = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))

    pop = build_population(rng_people, customers, period)
    erp = build_erp(rng_erp, pop, period, broken_share)
    calls = build_callcenter(rng_calls, pop, period, erp.orders_info, broken_share)
    web = build_web(rng_web, pop, period, erp.orders_info, erp.catalogue.product_id,
                    erp.catalogue.category, broken_share)

    rows = {
        "erp_customers": write_csv(out / "erp" / "customers.csv", erp.customers),
        "erp_products": write_csv(out / "erp" / "products.csv", erp.catalogue.table),
        "erp_orders": write_csv(out / "erp" / "orders.csv", erp.orders),
        "erp_order_lines": write_csv(out / "erp" / "order_lines.csv", erp.order_lines),
        "callcenter_calls": len(calls.daily.lines),
        "web_events": len(web.daily.lines),
    }
    files = {
        "callcenter": write_daily(out / "callcenter", "calls_", ".csv", period, calls.daily,
                                  calls.cp1252_day),
        "web": write_daily(out / "web", "events_", ".ndjson", period, web.daily),
        "erp": 4,
        "truth": 1,
    }
    truth = _truth(pop, [("erp", erp.customers["customer_id"], erp.record_person),
                         ("callcenter", calls.contact_id, calls.contact_person),
                         ("web", web.account_id, web.account_person)])
    rows["truth_records"] = write_csv(out / "truth" / "records.csv", truth)
    broken = {"erp": erp.broken, "callcenter": calls.broken, "web": web.broken}
    cp1252_files = ([f"callcenter/calls_{period.day_name(calls.cp1252_day)}.csv"]
                    if calls.cp1252_day is not None else [])
    manifest = {
        "generator": "onetoone.generate",
        "parameters": {"customers": customers, "seed": seed, "days": days,
                       "start_date": period.start.isoformat(), "end_date": end_date.isoformat(),
                       "broken_share": broken_share},
        "population": {
            "persons": pop.n,
            "households": int(pop.household.max()) + 1,
            "persons_in_shared_households": int((pop.role != SINGLE).sum()),
            "in_erp": int(pop.in_erp.sum()),
            "in_callcenter": int(pop.in_callcenter.sum()),
            "in_web": int(pop.in_web.sum()),
        },
        "records": {"erp": len(erp.customers["customer_id"]), "callcenter": len(calls.contact_id),
                    "web": len(web.account_id)},
        "rows": rows,
        "files": files,
        "broken": broken,
        "broken_modes": {source: {k: BROKEN_MODES[source][k] for k in kinds}
                         for source, kinds in broken.items()},
        "cp1252_files": cp1252_files,
        # records seen only in the cp1252 file: lost to a reader that insists on UTF-8
        "records_only_in_cp1252_files": {"callcenter": calls.cp1252_only},
        "notes": {
            "web_files": "partitioned by the UTC date of occurred_at; occurred_at carries the "
                         "user's local UTC offset",
            "callcenter_files": "partitioned by the local date of called_at (call-center time)",
            "valid_rows": "each broken row is one line: the valid rows of a file kind are its "
                          "rows minus the broken rows of its source (the ERP ones are all order "
                          "lines); cp1252_file counts the rows of the cp1252 file, valid once "
                          "decoded as cp1252",
        },
    }
    with open_private(out / "manifest.json", "w", encoding="utf-8") as manifest_file:
        manifest_file.write(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    return GenerationReport(out, rows, broken, files, time.perf_counter() - started)


def _truth(pop: Population, sources: list[tuple[str, Strings, np.ndarray]]
           ) -> dict[str, Strings]:
    """source, source_record_id, person_id, household_id of every customer record, by source
    and record id."""
    order = [pc.sort_indices(ids).to_numpy() for _, ids, _ in sources]
    source = pa.concat_arrays([take([name], np.zeros(len(ids), dtype=np.int64))
                               for name, ids, _ in sources])
    record_id = pa.concat_arrays([pc.take(ids, pa.array(o)).cast(pa.string())
                                  for (_, ids, _), o in zip(sources, order, strict=True)])
    person = np.concatenate([p[o] for (_, _, p), o in zip(sources, order, strict=True)])
    return {"source": source, "source_record_id": record_id,
            "person_id": take(pop.person_id, person),
            "household_id": take(pop.household_id, person)}
