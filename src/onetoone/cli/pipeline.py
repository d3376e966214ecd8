"""The pipeline's commands without Airflow: `generate`, `ingest`, `demo`, and the `dbt` and
`airflow` CLIs run in the project's environment."""

from __future__ import annotations

import argparse
from datetime import UTC, date, datetime
from pathlib import Path

from onetoone.cli.common import ready_warehouse, started_warehouse
from onetoone.foundation import config
from onetoone.generate import generate
from onetoone.generate.erp_source import load_erp_source
from onetoone.operations import pipeline
from onetoone.operations.demo import DEMO_END_DATE, run_demo
from onetoone.runtime.airflow_env import run_airflow
from onetoone.runtime.dbt import run_dbt


def _airflow(airflow_args: list[str]) -> int:
    return run_airflow(airflow_args, check=False).returncode


# Commands whose arguments all belong to another tool: `main` hands them over unparsed.
PASS_THROUGH = {"dbt": run_dbt, "airflow": _airflow}


def register(commands: argparse._SubParsersAction) -> None:
    gen = commands.add_parser("generate", help="write sample extracts with ground truth")
    gen.add_argument("--customers", type=int, default=3000, help="people to generate")
    gen.add_argument("--seed", type=int, default=42, help="random seed")
    gen.add_argument("--out", type=Path, required=True, help="folder to write the extracts to")
    gen.add_argument("--days", type=int, default=730, help="days of history")
    gen.add_argument("--end-date", type=date.fromisoformat, default=DEMO_END_DATE,
                     help="last day of the extracts (YYYY-MM-DD)")
    gen.add_argument("--broken-share", type=float, default=0.005,
                     help="share of deliberately broken rows")
    gen.add_argument("--no-erp-load", action="store_true",
                     help="only write files; do not load the ERP source database")
    gen.set_defaults(func=_generate)

    ing = commands.add_parser("ingest", help="load extracts into raw without Airflow")
    ing.add_argument("sources", nargs="+", choices=config.SOURCES)
    ing.add_argument("--until", type=date.fromisoformat, required=True,
                     help="end of the data interval (exclusive day for files)")
    ing.add_argument("--landing", type=Path, default=None,
                     help="folder of the extracts (default: the state folder's landing/)")
    ing.set_defaults(func=_ingest)

    demo = commands.add_parser("demo", help="generate a sample and run the whole pipeline")
    demo.add_argument("--customers", type=int, default=3000, help="people to generate")
    demo.add_argument("--seed", type=int, default=42, help="random seed")
    demo.set_defaults(func=_demo)

    dbt = commands.add_parser("dbt", help="run dbt against the configured warehouse "
                                          "(arguments go to dbt; `onetoone dbt --help`)",
                              add_help=False)
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)

    af = commands.add_parser("airflow", help="run the Airflow CLI in the project's environment "
                                             "(arguments go to airflow)", add_help=False)
    af.add_argument("airflow_args", nargs=argparse.REMAINDER)


def _generate(args: argparse.Namespace) -> int:
    report = generate(args.out, customers=args.customers, seed=args.seed, days=args.days,
                      end_date=args.end_date, broken_share=args.broken_share)
    print(f"generated {args.customers} customers into {args.out} in {report.elapsed_seconds:.1f} s")
    if not args.no_erp_load:
        started_warehouse()  # the embedded server also holds the ERP source database
        counts = load_erp_source(config.erp_source_url(), Path(args.out) / "erp")
        print("loaded the ERP source database:", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _ingest(args: argparse.Namespace) -> int:
    url = ready_warehouse()
    until = datetime.combine(args.until, datetime.min.time(), tzinfo=UTC)
    for source in args.sources:
        summary = pipeline.ingest(source, warehouse=url, erp=config.erp_source_url(),
                                  until=until, landing=args.landing)
        print(source, summary.totals())
    return 0


def _demo(args: argparse.Namespace) -> int:
    return run_demo(customers=args.customers, seed=args.seed)
