"""Data stewards' commands: record that two source records are, or are not, the same customer.

The decision is stored in ``identity.overrides`` and honoured from the next identity run on;
open review-queue rows of the pair are marked decided.
"""

from __future__ import annotations

import argparse
import sys


def add_parser(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("identity", help="steward decisions on customer identity")
    actions = parser.add_subparsers(dest="identity_command", required=True)
    override = actions.add_parser(
        "override", help="record that two records are / are not the same customer",
        description=__doc__.split("\n\n")[0])
    override.add_argument("record_a", metavar="RECORD_A", help="source:source_record_id")
    override.add_argument("record_b", metavar="RECORD_B", help="source:source_record_id")
    decision = override.add_mutually_exclusive_group(required=True)
    decision.add_argument("--same", dest="decision", action="store_const", const="same")
    decision.add_argument("--different", dest="decision", action="store_const",
                          const="different")
    override.add_argument("--by", required=True, help="who decided")
    override.add_argument("--reason", required=True, help="why (kept for audits)")
    override.set_defaults(func=_override)


def _override(args: argparse.Namespace) -> int:
    import psycopg

    from onetoone import identity_store
    from onetoone.config import warehouse_url

    try:
        with psycopg.connect(warehouse_url()) as conn:
            identity_store.ensure_schema(conn)
            pair = identity_store.record_override(
                conn, args.record_a, args.record_b, decision=args.decision,
                decided_by=args.by, reason=args.reason)
    except ValueError as err:
        print(f"onetoone identity override: error: {err}", file=sys.stderr)
        return 2
    print(f"{pair[0]} and {pair[1]}: {args.decision} (by {args.by}); applies from the next run")
    return 0
