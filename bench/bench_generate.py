"""Benchmark of `onetoone generate`: rows written per kind, seconds and rows per second.

    .venv/bin/python bench/bench_generate.py --customers 100000

Wall time depends on what else runs on the machine; CPU seconds of this process are printed
too, as the steadier figure.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

from onetoone.generate import generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=730)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, help="write here instead of a temporary folder")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="onetoone-bench-") as tmp:
        out = args.out or Path(tmp)
        cpu = time.process_time()
        report = generate(out, args.customers, args.seed, days=args.days)
        cpu = time.process_time() - cpu
        size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())

    seconds = report.elapsed_seconds
    print(f"customers        {args.customers:>12,}")
    print(f"days             {args.days:>12,}")
    for kind, rows in report.rows.items():
        broken = sum(report.broken.get(kind.split("_")[0], {}).values()) if kind in (
            "callcenter_calls", "web_events", "erp_order_lines") else 0
        note = f"  ({broken:,} broken)" if broken else ""
        print(f"{kind:<16} {rows:>12,}{note}")
    print(f"rows total       {report.total_rows:>12,}")
    print(f"bytes written    {size:>12,}")
    print(f"seconds          {seconds:>12.2f}  (CPU {cpu:.2f})")
    print(f"rows/second      {report.total_rows / seconds:>12,.0f}")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory MB   {peak_mb:>12,.0f}")


if __name__ == "__main__":
    main()
