"""`onetoone quarantine list|reprocess`: review quarantined rows and re-process them after a
fix (see stages/ingest/quarantine.py for what re-processing guarantees)."""

from __future__ import annotations

import argparse
from pathlib import Path

import psycopg

from onetoone.cli.common import ready_warehouse
from onetoone.foundation import config
from onetoone.operations.quarantine import reprocess_and_check
from onetoone.stages.ingest.quarantine import (
    CorrectionsError,
    Selection,
    export_csv,
    list_quarantine,
    read_corrections,
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Register `onetoone quarantine list|reprocess`."""
    cmd = subparsers.add_parser("quarantine", help="review quarantined rows and re-process them"
                                                   " after a fix")
    actions = cmd.add_subparsers(dest="quarantine_action", required=True)

    def selectors(parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--source", choices=config.SOURCES)
        parser.add_argument("--batch", type=int, help="a batch_id of raw.load_batches")
        parser.add_argument("--id", type=int, action="append", dest="ids", default=[],
                            help="a quarantine_id (repeat for several)")

    show = actions.add_parser("list", help="quarantined rows with file, line, field and reason")
    selectors(show)
    show.add_argument("--all", action="store_true", dest="include_reprocessed",
                      help="include rows already re-processed")
    show.add_argument("--limit", type=int, default=50, help="rows to print (default 50)")
    show.add_argument("--csv", type=Path, help="write the selected rows (no limit) to this CSV"
                      " for correction: edit `record`, then `reprocess --corrections`")
    show.set_defaults(func=_cmd_list)

    run = actions.add_parser("reprocess", help="run open rows again through the checks of"
                                               " their source and load those that pass")
    selectors(run)
    run.add_argument("--all", action="store_true", dest="every_row",
                     help="every open quarantined row")
    run.add_argument("--corrections", type=Path,
                     help="a CSV from `list --csv` with corrected `record` values")
    run.add_argument("--by", required=True, help="who re-processes (recorded)")
    run.add_argument("--reason", required=True,
                     help="the fix this follows, e.g. a ticket (recorded)")
    run.set_defaults(func=_cmd_reprocess)


def _selection(args: argparse.Namespace) -> Selection:
    return Selection(args.source, args.batch, tuple(args.ids))


def _cmd_list(args: argparse.Namespace) -> int:
    with psycopg.connect(ready_warehouse()) as conn:
        lines = list_quarantine(conn, _selection(args),
                                include_reprocessed=args.include_reprocessed)
    if args.csv:
        export_csv(lines, args.csv)
        print(f"wrote {len(lines)} row(s) to {args.csv}")
        return 0
    state = "" if args.include_reprocessed else "open "
    print(f"{len(lines)} {state}quarantined row(s)"
          + (f", first {args.limit} shown" if len(lines) > args.limit else ""))
    for line in lines[:args.limit]:
        status = (f" (re-processed by #{line.reprocessing_id})" if line.reprocessed_at else "")
        print(f"#{line.quarantine_id} batch {line.batch_id} {line.location}"
              f"{f' [{line.field}]' if line.field else ''}: {line.reason}{status}")
        record = line.record if line.record is not None else "(erased)"
        print(f"    {record[:160]}{'...' if len(record) > 160 else ''}")
    return 0


def _cmd_reprocess(args: argparse.Namespace) -> int:
    selection = _selection(args)
    if args.corrections and (selection != Selection() or args.every_row):
        print("--corrections names its rows itself; use it without --all, --source, --batch"
              " or --id")
        return 2
    if not args.corrections and not args.every_row and selection == Selection():
        print("say which rows: --source, --batch, --id, --corrections, or --all")
        return 2
    try:
        corrections = read_corrections(args.corrections) if args.corrections else None
        result = reprocess_and_check(
            ready_warehouse(), selection, requested_by=args.by, reason=args.reason,
            corrections=corrections, erp=config.erp_source_url(),
            method=f"corrections from {args.corrections.name}" if args.corrections else None)
    except CorrectionsError as err:
        print(f"nothing re-processed: {err}")
        return 2
    print(result.describe())
    return 1 if result.status == "reverted" else 0
