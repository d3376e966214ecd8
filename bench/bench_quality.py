"""Time of each quality layer on the warehouse as it is (run `make demo` first), and what the
audit and GX's files keep of personal data afterwards.

    .venv/bin/python bench/bench_quality.py [--layers raw identity marts] [--repeat 2]

Each layer validates whole tables (no batch scope), so the figure is the worst case of a daily
run. Prints per layer the wall time of ``run_layer`` (checkpoints, Data Docs, audit rows), the
checks run and failed, then how many stored samples in ``audit.expectation_results`` hold
something shaped like an email address, and the same for the files under ``<state>/gx``.
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
    as_of = datetime.now(UTC)
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
    with psycopg.connect(warehouse_url()) as conn:
        samples = conn.execute(
            "select count(*) filter (where partial_unexpected_list::text ~ %s"
            "  or observed_value::text ~ %s), count(*) from audit.expectation_results",
            (EMAIL.pattern, EMAIL.pattern)).fetchone()
    print(f"audit.expectation_results: {samples[0]} of {samples[1]} rows hold an email address")
    files = [p for p in paths().gx_root.rglob("*") if p.is_file() and p.suffix in (".json",
                                                                                      ".html")]
    holding = [p for p in files if EMAIL.search(p.read_text(errors="replace"))]
    print(f"{paths().gx_root}: {len(holding)} of {len(files)} result and page files hold an"
          " email address")


if __name__ == "__main__":
    main()
