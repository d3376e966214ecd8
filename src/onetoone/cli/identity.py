"""`onetoone dedupe` (any customer CSV files) and `onetoone identity` (stewards' decisions)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg

from onetoone.cli.common import CommandError, ready_warehouse
from onetoone.stages.identity import store as identity_store
from onetoone.stages.identity.dedupe import (
    DEDUPE_FIELDS,
    DedupeInputError,
    dedupe_files,
    parse_mapping,
)
from onetoone.stages.identity.linker import save_model

DEDUPE_DESCRIPTION = ("Link and deduplicate any customer CSV files with the pipeline's own "
                      "model family (same standardisation, comparisons, training, clustering and "
                      f"keys). Each file is one source, named after its stem. Fields: "
                      f"{', '.join(DEDUPE_FIELDS)} (all optional but record_id).")
OVERRIDE_DESCRIPTION = ("Record that two source records are, or are not, the same customer. "
                        "The decision is stored in identity.overrides and honoured from the next "
                        "identity run on; open review-queue rows of the pair are marked decided.")


def register(commands: argparse._SubParsersAction) -> None:
    dedupe = commands.add_parser("dedupe", help="deduplicate and link customer CSV files",
                                 description=DEDUPE_DESCRIPTION)
    dedupe.add_argument("files", nargs="+", type=Path, metavar="FILE")
    dedupe.add_argument("--output", type=Path, required=True, metavar="OUT.csv")
    dedupe.add_argument("--model", type=Path,
                        help="a saved model JSON (default: train on the input)")
    dedupe.add_argument("--save-model", type=Path, help="write the trained model JSON here")
    dedupe.add_argument("--map", action="append", default=[], metavar="SRC=FIELD",
                        help="use column SRC as FIELD (repeatable)")
    dedupe.set_defaults(func=_dedupe)

    identity = commands.add_parser("identity", help="steward decisions on customer identity")
    actions = identity.add_subparsers(dest="identity_command", required=True)
    override = actions.add_parser(
        "override", help="record that two records are / are not the same customer",
        description=OVERRIDE_DESCRIPTION)
    override.add_argument("record_a", metavar="RECORD_A", help="source:source_record_id")
    override.add_argument("record_b", metavar="RECORD_B", help="source:source_record_id")
    decision = override.add_mutually_exclusive_group(required=True)
    decision.add_argument("--same", dest="decision", action="store_const", const="same")
    decision.add_argument("--different", dest="decision", action="store_const",
                          const="different")
    override.add_argument("--by", required=True, help="who decided")
    override.add_argument("--reason", required=True, help="why (kept for audits)")
    override.set_defaults(func=_override)


def _dedupe(args: argparse.Namespace) -> int:
    try:
        result = dedupe_files(args.files, mapping=parse_mapping(args.map), model_path=args.model)
    except DedupeInputError as err:
        raise CommandError(f"onetoone dedupe: error: {err}") from None
    if args.save_model:
        save_model(result.model, args.save_model)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result.keys.to_csv(args.output, index=False)
    print(f"{result.summary()}; wrote {args.output}")
    return 0


def _override(args: argparse.Namespace) -> int:
    try:
        with psycopg.connect(ready_warehouse()) as conn, conn.transaction():
            pair = identity_store.record_override(
                conn, args.record_a, args.record_b, decision=args.decision,
                decided_by=args.by, reason=args.reason)
    except ValueError as err:
        print(f"onetoone identity override: error: {err}", file=sys.stderr)
        return 2
    print(f"{pair[0]} and {pair[1]}: {args.decision} (by {args.by}); applies from the next run")
    return 0
