"""`onetoone warehouse start|stop|status|migrate`."""

from __future__ import annotations

import argparse

from onetoone.cli.common import started_warehouse
from onetoone.operations.migrate import migrate_warehouse
from onetoone.runtime import warehouse


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "warehouse", help="manage the embedded PostgreSQL warehouse and its schemas",
        description="start, stop or describe the embedded server; `migrate` creates or upgrades "
                    "every stage's tables (also on an external warehouse)")
    parser.add_argument("action", choices=("start", "stop", "status", "migrate"))
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    if args.action == "migrate":
        applied = migrate_warehouse(started_warehouse())
        print("migrated: " + ", ".join(applied))
        return 0
    action = {"start": warehouse.start, "stop": warehouse.stop, "status": warehouse.status}
    status = action[args.action]()
    print(status.describe())
    if status.running:
        print(f"  psql:   {warehouse.psql_command()}")
    return 0
