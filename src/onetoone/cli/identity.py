"""`onetoone dedupe` (any customer CSV files) and `onetoone identity` (stewards' decisions)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg

from onetoone.cli.common import CommandError, ready_warehouse
from onetoone.stages.identity import store as identity_store
from onetoone.stages.identity.backends import (
    BACKEND_ENV,
    BACKENDS,
    BackendError,
    configured_backend,
)
from onetoone.stages.identity.dedupe import (
    DEDUPE_FIELDS,
    DedupeInputError,
    dedupe_files,
    parse_mapping,
)
from onetoone.stages.identity.linker import blocking_report, save_model
from onetoone.stages.identity.review import format_review_row, open_review_queue
from onetoone.stages.identity.step import NothingToExplain, explain_customer

DEDUPE_DESCRIPTION = ("Link and deduplicate any customer CSV files with the pipeline's own "
                      "model family (same standardisation, comparisons, training, clustering and "
                      f"keys). Each file is one source, named after its stem. Fields: "
                      f"{', '.join(DEDUPE_FIELDS)} (all optional but record_id).")
OVERRIDE_DESCRIPTION = ("Record that two source records are, or are not, the same customer. "
                        "The decision is stored in identity.overrides and honoured from the next "
                        "identity run on; open review-queue rows of the pair are marked decided.")
EXPLAIN_DESCRIPTION = ("Score every pair of a customer's records with the current model and print "
                       "each comparison's contribution (Splink's waterfall), linked pairs first.")
REVIEW_DESCRIPTION = ("Without RECORD_A RECORD_B: list the open review queue, pairs nearest to "
                      "being linked first, with the evidence for and against. With them and "
                      "--same/--different --by --reason: record the decision as an override.")


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
    dedupe.add_argument("--backend", choices=BACKENDS,
                        help=f"where pairs are scored (default: ${BACKEND_ENV}, else duckdb;"
                             " spark uses $ONETOONE_SPARK_MASTER, default local[2])")
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

    explain = actions.add_parser(
        "explain", help="why a customer's records are linked: each pair's match weights",
        description=EXPLAIN_DESCRIPTION)
    explain.add_argument("customer_key", metavar="KEY", help="a customer key")
    explain.set_defaults(func=_explain)

    review = actions.add_parser(
        "review", help="list the open review queue, or decide one of its pairs",
        description=REVIEW_DESCRIPTION)
    review.add_argument("pair", nargs="*", metavar="RECORD", help="RECORD_A RECORD_B to decide")
    verdict = review.add_mutually_exclusive_group()
    verdict.add_argument("--same", dest="decision", action="store_const", const="same")
    verdict.add_argument("--different", dest="decision", action="store_const",
                         const="different")
    review.add_argument("--by", help="who decided")
    review.add_argument("--reason", help="why (kept for audits)")
    review.add_argument("--limit", type=int, default=20, help="pairs to list")
    review.set_defaults(func=_review)


def _dedupe(args: argparse.Namespace) -> int:
    try:
        result = dedupe_files(args.files, mapping=parse_mapping(args.map), model_path=args.model,
                              backend=configured_backend(args.backend))
    except (DedupeInputError, BackendError) as err:
        raise CommandError(f"onetoone dedupe: error: {err}") from None
    if args.save_model:
        save_model(result.model, args.save_model)
    for line in blocking_report(result.model):
        print(line, file=sys.stderr)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result.keys.to_csv(args.output, index=False)
    print(f"{result.summary()}; wrote {args.output}")
    return 0


def _override(args: argparse.Namespace, command: str = "override") -> int:
    try:
        with psycopg.connect(ready_warehouse()) as conn, conn.transaction():
            pair = identity_store.record_override(
                conn, args.record_a, args.record_b, decision=args.decision,
                decided_by=args.by, reason=args.reason)
    except ValueError as err:
        print(f"onetoone identity {command}: error: {err}", file=sys.stderr)
        return 2
    print(f"{pair[0]} and {pair[1]}: {args.decision} (by {args.by}); applies from the next run")
    return 0


def _review(args: argparse.Namespace) -> int:
    deciding = bool(args.pair) or args.decision is not None
    if deciding and (len(args.pair) != 2 or args.decision is None or not args.by
                     or not args.reason):
        raise CommandError("onetoone identity review: error: to decide, give RECORD_A RECORD_B,"
                           " --same or --different, --by and --reason")
    if deciding:
        args.record_a, args.record_b = args.pair
        return _override(args, command="review")
    with psycopg.connect(ready_warehouse()) as conn:
        queue = open_review_queue(conn, limit=args.limit)
    if queue.empty:
        print("the review queue is empty")
        return 0
    for row in queue.itertuples(index=False):
        print("\n".join(format_review_row(row)))
    print(f"{len(queue)} open pairs shown; decide one with: onetoone identity review"
          " RECORD_A RECORD_B --same|--different --by NAME --reason TEXT")
    return 0


def _explain(args: argparse.Namespace) -> int:
    try:
        with psycopg.connect(ready_warehouse()) as conn:
            ids, explained = explain_customer(conn, args.customer_key)
    except NothingToExplain as err:
        raise CommandError(f"onetoone identity explain: error: {err}") from None
    print(f"{args.customer_key}: {len(ids)} records: {', '.join(ids)}")
    for line in explanation_lines(explained):
        print(line)
    return 0


def explanation_lines(explained) -> list[str]:
    """``linker.explain_links``' rows as text: a header per pair, then its terms."""
    lines: list[str] = []
    for (record_a, record_b), terms in explained.groupby(["record_a", "record_b"], sort=False):
        first = terms.iloc[0]
        lines.append(f"{record_a}  {record_b}  probability {first.match_probability:.4f}"
                     f"  weight {first.match_weight:+.2f}"
                     f"  {'linked' if first.linked else 'not linked by this pair'}")
        lines += [f"    {term.comparison:<24} {term.weight:+7.2f}  {term.level}"
                  for term in terms.itertuples(index=False)]
    return lines
