"""`onetoone serve [--host H] [--port N]`: the front-line lookup service."""

from __future__ import annotations

import argparse
import logging

from onetoone.cli.common import CommandError, ready_warehouse
from onetoone.stages.identity.step import NoLookupIndex

DEFAULT_PORT = 8765


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser(
        "serve", help="the front-line lookup service: GET /customers/lookup, "
                      "GET /customers/{key} and a page at / (tokens: `onetoone access "
                      "issue-token`)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (another than loopback exposes the service)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    from onetoone.service.app import create_app, load_context

    url = ready_warehouse()
    try:
        context = load_context(url)
    except NoLookupIndex as error:
        raise CommandError(f"onetoone serve: {error}") from None
    logging.getLogger("onetoone.service").setLevel(logging.INFO)
    print(f"serving {context.index.records:,} records (identity model "
          f"{context.index.model_version}) on http://{args.host}:{args.port}/", flush=True)
    # uvicorn's access log would write every lookup's query string (personal data) to the log;
    # the app logs method, route template, status and latency instead
    uvicorn.run(create_app(context), host=args.host, port=args.port, access_log=False,
                log_level="warning")
    return 0
