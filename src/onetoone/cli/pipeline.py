"""The pipeline's commands without Airflow: `generate`, `ingest`, `demo`, `report`, and the
`dbt` and `airflow` CLIs run in the project's environment."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, date, datetime
from pathlib import Path

import psycopg

from onetoone.cli.common import ready_warehouse, started_warehouse
from onetoone.foundation import config
from onetoone.generate import generate
from onetoone.generate.erp_source import load_erp_source
from onetoone.operations import pipeline
from onetoone.operations.demo import DEMO_END_DATE, run_demo
from onetoone.operations.report import write_report
from onetoone.runtime.airflow_env import run_airflow, run_dags_test
from onetoone.runtime.dbt import run_dbt


def _airflow(airflow_args: list[str]) -> int:
    if airflow_args[:1] == ["ui"]:
        return _airflow_ui(airflow_args[1:])
    if airflow_args[:2] == ["dags", "test"]:  # with task logs the UI shows
        return run_dags_test(airflow_args[2:], echo=print).returncode
    return run_airflow(airflow_args, check=False).returncode


def _airflow_ui(ui_args: list[str]) -> int:
    """`onetoone airflow ui`: Airflow's own UI over the project's Airflow home (the demo's and
    the tests' runs, their task logs), on 127.0.0.1 only."""
    parser = argparse.ArgumentParser(
        prog="onetoone airflow ui", formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        description="Serve Airflow's UI for the project's Airflow home on 127.0.0.1, after "
                    "bringing its metadata database and DAGs up to date. Ctrl-C stops it.")
    parser.add_argument("--port", type=int, default=8080, help="port to serve the UI on")
    port = parser.parse_args(ui_args).port
    for step in (["db", "migrate"], ["dags", "reserialize"]):
        if run_airflow(step, check=False, capture_output=True).returncode != 0:
            print(f"onetoone airflow ui: `airflow {' '.join(step)}` failed; run it to see why",
                  file=sys.stderr)
            return 2
    passwords = config.paths().airflow_home / "simple_auth_manager_passwords.json.generated"
    print(f"Airflow UI: http://127.0.0.1:{port}/  log in as admin, password in {passwords} "
          "(written at the first start)", flush=True)
    try:
        return run_airflow(["api-server", "--host", "127.0.0.1", "--port", str(port)],
                           check=False).returncode
    except KeyboardInterrupt:
        return 0


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

    rep = commands.add_parser("report", help="write the run report: one HTML page, offline "
                                             "(value, tiers, portfolios, quality, identity)")
    rep.add_argument("--out", type=Path, default=None,
                     help="file to write (default: the state folder's reports/report.html)")
    rep.set_defaults(func=_report)

    dbt = commands.add_parser("dbt", help="run dbt against the configured warehouse "
                                          "(arguments go to dbt; `onetoone dbt --help`)",
                              add_help=False)
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)

    af = commands.add_parser("airflow", help="run the Airflow CLI in the project's environment "
                                             "(arguments go to airflow); `onetoone airflow ui` "
                                             "serves the UI on 127.0.0.1", add_help=False)
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


def _report(args: argparse.Namespace) -> int:
    with psycopg.connect(ready_warehouse()) as conn:
        print(f"report: {write_report(conn, args.out)}")
    return 0


def _demo(args: argparse.Namespace) -> int:
    return run_demo(customers=args.customers, seed=args.seed)
