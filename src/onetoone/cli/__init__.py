"""The `onetoone` command line: the only home of argparse. Each module registers its commands;
``main`` turns expected failures into one line and an exit code, never a traceback."""

from __future__ import annotations

import argparse
import logging
import sys

import psycopg

from onetoone.cli import (
    access,
    forget,
    identity,
    pipeline,
    quarantine,
    serve,
    value,
    warehouse,
)
from onetoone.cli.common import CommandError
from onetoone.foundation.config import keep_files_private
from onetoone.runtime.dbt import ManifestError
from onetoone.runtime.warehouse import WarehouseError

COMMAND_MODULES = (warehouse, pipeline, identity, value, access, forget, quarantine, serve)


class _Parser(argparse.ArgumentParser):
    """Every option's help shows its default."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        super().__init__(*args, **kwargs)


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    def _get_help_string(self, action: argparse.Action) -> str | None:
        # Only where a default means something: not for flags, required options or positionals.
        if (action.default in (None, False, argparse.SUPPRESS) or action.required
                or not action.option_strings or "%(default)" in (action.help or "")):
            return action.help
        return super()._get_help_string(action)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="onetoone",
        description="A customer warehouse for one-to-one marketing: identify, differentiate, "
                    "interact, customize.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # Before anything writes to the state folder; Airflow, dbt and the server inherit it.
    keep_files_private()
    if argv and argv[0] in pipeline.PASS_THROUGH:
        # Everything after `dbt` or `airflow` is theirs, `--help` included.
        return pipeline.PASS_THROUGH[argv[0]](argv[1:])
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except CommandError as err:
        print(err, file=sys.stderr)
        return err.code
    except (WarehouseError, ManifestError) as err:
        print(f"onetoone {args.command}: {err}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"onetoone {args.command}: cannot reach the warehouse ({first_line}); is it "
              "running? `onetoone warehouse status` tells, `onetoone warehouse start` starts it",
              file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
