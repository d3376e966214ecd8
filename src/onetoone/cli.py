"""The `onetoone` command line."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from onetoone import config


def _cmd_warehouse(args: argparse.Namespace) -> int:
    from onetoone import warehouse

    action = {"start": warehouse.start, "stop": warehouse.stop, "status": warehouse.status}
    status = action[args.action]()
    print(status.describe())
    if status.running:
        print(f"  psql:   {warehouse.psql_command()}")
    return 0


def _cmd_generate(args: argparse.Namespace) -> int:
    from onetoone.generate import generate
    from onetoone.generate.erp_source import load_erp_source

    report = generate(args.out, customers=args.customers, seed=args.seed, days=args.days,
                      end_date=args.end_date, broken_share=args.broken_share)
    print(f"generated {args.customers} customers into {args.out} in {report.elapsed_seconds:.1f} s")
    if not args.no_erp_load:
        if config.uses_embedded_warehouse():
            from onetoone import warehouse

            warehouse.start()
        counts = load_erp_source(config.erp_source_url(), Path(args.out) / "erp")
        print("loaded the ERP source database:", ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def _cmd_ingest(args: argparse.Namespace) -> int:
    from onetoone import pipeline

    until = datetime.combine(args.until, datetime.min.time(), tzinfo=UTC)
    for source in args.sources:
        result = pipeline.ingest(source, warehouse=config.warehouse_url(),
                                 erp=config.erp_source_url(), until=until, landing=args.landing)
        print({k: v for k, v in result.items() if k != "batch_ids"})
    return 0


def dbt_environment() -> dict[str, str]:
    """Environment for running dbt by hand: profiles.yml reads the warehouse from these."""
    parts = config.connection_parts(config.warehouse_url())
    p = config.paths()
    return {
        "ONETOONE_PG_HOST": parts.host,
        "ONETOONE_PG_PORT": str(parts.port),
        "ONETOONE_PG_USER": parts.user,
        "ONETOONE_PG_PASSWORD": parts.password,
        "ONETOONE_PG_DATABASE": parts.dbname,
        "DBT_TARGET_PATH": str(p.dbt_target),
        "DBT_LOG_PATH": str(p.dbt_logs),
        "DBT_PROFILES_DIR": str(config.DBT_PROJECT_DIR),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "False",
    }


def run_dbt(dbt_args: list[str]) -> int:
    dbt = Path(sys.executable).parent / "dbt"
    return subprocess.run([str(dbt), *dbt_args], cwd=config.DBT_PROJECT_DIR,
                          env={**os.environ, **dbt_environment()}).returncode


def _cmd_dbt(args: argparse.Namespace) -> int:
    return run_dbt(args.dbt_args)


def _cmd_airflow(args: argparse.Namespace) -> int:
    from onetoone.airflow_env import run_airflow

    return run_airflow(args.airflow_args, check=False).returncode


def _cmd_demo(args: argparse.Namespace) -> int:
    from onetoone.demo import run_demo

    return run_demo(customers=args.customers, seed=args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="onetoone",
        description="A customer warehouse for one-to-one marketing: identify, differentiate, "
                    "interact, customize.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True)

    wh = commands.add_parser("warehouse", help="manage the embedded PostgreSQL warehouse")
    wh.add_argument("action", choices=("start", "stop", "status"))
    wh.set_defaults(func=_cmd_warehouse)

    gen = commands.add_parser("generate", help="write sample extracts with ground truth")
    gen.add_argument("--customers", type=int, default=3000)
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--days", type=int, default=730)
    gen.add_argument("--end-date", type=date.fromisoformat, default=date(2026, 10, 31),
                     help="last day of the extracts (YYYY-MM-DD)")
    gen.add_argument("--broken-share", type=float, default=0.005,
                     help="share of deliberately broken rows")
    gen.add_argument("--no-erp-load", action="store_true",
                     help="only write files; do not load the ERP source database")
    gen.set_defaults(func=_cmd_generate)

    ing = commands.add_parser("ingest", help="load extracts into raw without Airflow")
    ing.add_argument("sources", nargs="+", choices=("erp", "callcenter", "web"))
    ing.add_argument("--until", type=date.fromisoformat, required=True,
                     help="end of the data interval (exclusive day for files)")
    ing.add_argument("--landing", type=Path, default=None)
    ing.set_defaults(func=_cmd_ingest)

    dbt = commands.add_parser("dbt", help="run dbt against the configured warehouse",
                              add_help=False)
    dbt.add_argument("dbt_args", nargs=argparse.REMAINDER)
    dbt.set_defaults(func=_cmd_dbt)

    af = commands.add_parser("airflow", help="run the Airflow CLI in the project's environment",
                             add_help=False)
    af.add_argument("airflow_args", nargs=argparse.REMAINDER)
    af.set_defaults(func=_cmd_airflow)

    from onetoone import access, forget
    from onetoone.identity import dedupe, steward
    from onetoone.ingest import quarantine
    from onetoone.value import cli as value_cli

    dedupe.add_parser(commands)
    steward.add_parser(commands)
    value_cli.add_parser(commands)
    access.add_parser(commands)
    forget.add_parser(commands)
    quarantine.add_parser(commands)

    demo = commands.add_parser("demo", help="generate a sample and run the whole pipeline")
    demo.add_argument("--customers", type=int, default=3000)
    demo.add_argument("--seed", type=int, default=42)
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
