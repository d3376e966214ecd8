"""Time of each quality layer on the warehouse as it is (run `make demo` first), and what the
audit and GX's files keep of personal data afterwards.

    .venv/bin/python bench/bench_quality.py [--layers raw identity marts] [--repeat 2]

Each layer validates whole tables (no batch scope), so the figure is the worst case of a daily
run, as of the last run's ``as_of``. Prints per layer the wall time of ``run_layer``
(checkpoints, Data Docs, audit rows) and the checks run and failed, then how many rows of
``audit.expectation_results`` and how many files under ``<state>/gx`` hold one of the email
addresses of the raw layer in clear.
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from datetime import UTC, datetime

import psycopg

from onetoone.foundation.config import paths, warehouse_url
from onetoone.stages.quality import LAYERS, run_layer

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", nargs="+", choices=LAYERS, default=list(LAYERS))
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    with psycopg.connect(warehouse_url()) as conn:
        as_of = conn.execute("select max(as_of) from audit.validation_runs"
                             " where run_id not like 'bench-%'").fetchone()[0]
        emails = {row[0] for row in conn.execute(
            "select lower(trim(email)) from raw.erp_customers where email is not null"
            " union select lower(trim(email)) from raw.callcenter_calls where email is not null"
            " union select lower(trim(payload->>'email')) from raw.web_events"
            " where payload ? 'email'")}
    as_of = as_of or datetime.now(UTC)
    for layer in args.layers:
        seconds = []
        for attempt in range(args.repeat):
            clock = time.perf_counter()
            report = run_layer(layer, f"bench-{layer}-{attempt}", as_of=as_of)
            seconds.append(time.perf_counter() - clock)
        print(f"{layer:9} {statistics.median(seconds):6.2f} s median of {args.repeat}"
              f" ({', '.join(f'{s:.2f}' for s in seconds)}); {len(report.checks)} checks,"
              f" {len(report.critical_failures)} critical and {len(report.warning_failures)}"
              " warning failed")
    def in_clear(text: str) -> bool:
        return any(token.lower() in emails for token in EMAIL.findall(text))

    with psycopg.connect(warehouse_url()) as conn:
        rows = [row[0] for row in conn.execute(
            "select concat(partial_unexpected_list::text, ' ', observed_value::text)"
            " from audit.expectation_results")]
    print(f"audit.expectation_results: {sum(map(in_clear, rows))} of {len(rows)} rows hold one"
          f" of the raw layer's {len(emails)} email addresses in clear")
    files = [p for p in paths().gx_root.rglob("*") if p.is_file() and p.suffix in (".json",
                                                                                      ".html")]
    holding = [p for p in files if in_clear(p.read_text(errors="replace"))]
    print(f"{paths().gx_root}: {len(holding)} of {len(files)} result and page files hold one in"
          " clear")

if __name__ == "__main__":
    main()
