"""`onetoone forget (--customer-key KEY | --email EMAIL) --requested-by WHO --reason WHY`."""

from __future__ import annotations

import argparse

from onetoone.cli.common import CommandError, ready_warehouse
from onetoone.operations.forget import AmbiguousSubject, ErasureBlocked, forget


def register(commands: argparse._SubParsersAction) -> None:
    cmd = commands.add_parser(
        "forget", help="erase a person's personal data from the warehouse (right to be forgotten)")
    who = cmd.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer-key", help="the person's customer key")
    who.add_argument("--email", help="an email of the person (their records' keys are followed)")
    cmd.add_argument("--requested-by", required=True,
                     help="who asked (recorded in audit.erasures; no personal data)")
    cmd.add_argument("--reason", required=True,
                     help="why, e.g. a ticket id (recorded in audit.erasures; no personal data)")
    cmd.set_defaults(func=_forget)


def _forget(args: argparse.Namespace) -> int:
    try:
        report = forget(ready_warehouse(), customer_key=args.customer_key, email=args.email,
                        requested_by=args.requested_by, reason=args.reason)
    except (LookupError, ValueError, ErasureBlocked) as err:
        # AmbiguousSubject is a LookupError; none of these erased anything.
        kind = "ambiguous" if isinstance(err, AmbiguousSubject) else "nothing erased"
        raise CommandError(f"onetoone forget: {kind}: {err}") from None
    print(report.describe())
    return 0
