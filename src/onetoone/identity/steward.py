"""Data stewards' commands: record that two source records are, or are not, the same customer.

``override`` and ``review A B --same/--different`` store a decision; ``review`` alone lists the
open review queue; ``explain KEY`` shows why a customer's records are linked. The decision is
stored in ``identity.overrides`` and honoured from the next identity run on;
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

    explain = actions.add_parser(
        "explain", help="why a customer's records are linked: each pair's match weights",
        description="Score every pair of a customer's records with the current model and print"
                    " each comparison's contribution (Splink's waterfall), linked pairs first.")
    explain.add_argument("customer_key", metavar="KEY", help="a customer key")
    explain.set_defaults(func=_explain)

    review = actions.add_parser(
        "review", help="list the open review queue, or decide one of its pairs",
        description="Without RECORD_A RECORD_B: list the open review queue, pairs nearest to"
                    " being linked first, with the evidence for and against. With them and"
                    " --same/--different --by --reason: record the decision as an override.")
    review.add_argument("pair", nargs="*", metavar="RECORD", help="RECORD_A RECORD_B to decide")
    verdict = review.add_mutually_exclusive_group()
    verdict.add_argument("--same", dest="decision", action="store_const", const="same")
    verdict.add_argument("--different", dest="decision", action="store_const",
                         const="different")
    review.add_argument("--by", help="who decided")
    review.add_argument("--reason", help="why (kept for audits)")
    review.add_argument("--limit", type=int, default=20, help="pairs to list (default 20)")
    review.set_defaults(func=_review)


def _review(args: argparse.Namespace) -> int:
    import psycopg

    from onetoone import identity_store
    from onetoone.config import warehouse_url
    from onetoone.identity.review import format_review_row, open_review_queue

    deciding = bool(args.pair) or args.decision is not None
    if deciding and (len(args.pair) != 2 or args.decision is None or not args.by
                     or not args.reason):
        print("onetoone identity review: error: to decide, give RECORD_A RECORD_B, --same or"
              " --different, --by and --reason", file=sys.stderr)
        return 2
    if deciding:
        args.record_a, args.record_b = args.pair
        return _override(args, command="review")
    with psycopg.connect(warehouse_url()) as conn:
        identity_store.ensure_schema(conn)
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
    import psycopg

    from onetoone import identity_store
    from onetoone.config import warehouse_url
    from onetoone.identity.linker import explain_links, load_model
    from onetoone.identity.standardise import INPUT_FINGERPRINT, standardise_version

    model_path = identity_store.current_model_path()
    standardised = identity_store.read_standardised_records(standardise_version())
    if not model_path.exists() or standardised is None:
        print("onetoone identity explain: error: no identity run with this version of the"
              " code yet (no current model or standardised records); run the identity step"
              " first", file=sys.stderr)
        return 2
    with psycopg.connect(warehouse_url()) as conn:
        identity_store.ensure_schema(conn)
        ids = [f"{source}:{record}" for source, record in conn.execute(
            "select source, source_record_id from identity.customer_keys"
            " where customer_key = %s order by 1, 2", (args.customer_key,))]
    if not ids:
        print(f"onetoone identity explain: error: no customer key {args.customer_key!r}",
              file=sys.stderr)
        return 2
    print(f"{args.customer_key}: {len(ids)} records: {', '.join(ids)}")
    explained = explain_links(standardised.drop(columns=INPUT_FINGERPRINT),
                              load_model(model_path), ids)
    for lines in explanation_lines(explained):
        print(lines)
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


def _override(args: argparse.Namespace, command: str = "override") -> int:
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
        print(f"onetoone identity {command}: error: {err}", file=sys.stderr)
        return 2
    print(f"{pair[0]} and {pair[1]}: {args.decision} (by {args.by}); applies from the next run")
    return 0
