"""`onetoone access setup`, `onetoone access grant-login NAME --role ROLE`, and the front-line
service's tokens: `onetoone access issue-token HOLDER --role ROLE`, `revoke-token TOKEN_ID`."""

from __future__ import annotations

import argparse
import getpass
import os
from pathlib import Path

import psycopg

from onetoone.cli.common import CommandError, ready_warehouse
from onetoone.foundation.config import BI_SCHEMA
from onetoone.stages.serving import access, frontline

NEW_LOGIN_PASSWORD_ENV = "ONETOONE_NEW_LOGIN_PASSWORD"


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("access", help="roles, grants and logins of the warehouse")
    actions = parser.add_subparsers(dest="action", required=True)
    setup = actions.add_parser("setup", help="create the roles and apply every grant")
    setup.add_argument("--manifest", type=Path, default=None,
                       help="dbt manifest declaring the personal columns "
                            "(default: the state folder's dbt target)")
    setup.set_defaults(func=_setup)
    login = actions.add_parser(
        "grant-login",
        help=f"create or update a login in a role; the password comes from "
             f"${NEW_LOGIN_PASSWORD_ENV} or a prompt, never from the command line")
    login.add_argument("name")
    login.add_argument("--role", choices=tuple(access.GROUP_ROLES), required=True)
    login.set_defaults(func=_grant_login)
    issue = actions.add_parser(
        "issue-token", help="a bearer token for the front-line service (`onetoone serve`); "
                            "printed once, only its hash is kept")
    issue.add_argument("holder", help="the person or tool the token is for")
    issue.add_argument("--role", choices=frontline.ROLES, required=True,
                       help="frontline: looks customers up and sees the contact data of those "
                            "it looked up; bi: customer views without personal fields")
    issue.set_defaults(func=_issue_token)
    revoke = actions.add_parser("revoke-token", help="revoke a front-line service token")
    revoke.add_argument("token_id", help="the token's id: its part between the dots")
    revoke.set_defaults(func=_revoke_token)


def _setup(args: argparse.Namespace) -> int:
    with psycopg.connect(ready_warehouse()) as conn, conn.transaction():
        granted = access.setup(conn, args.manifest)
    print(f"roles: {', '.join(access.GROUP_ROLES.values())}")
    for table, columns in sorted(granted.items()):
        print(f"  BI reads {BI_SCHEMA}.{table}: {len(columns)} columns")
    return 0


def _grant_login(args: argparse.Namespace) -> int:
    password = os.environ.get(NEW_LOGIN_PASSWORD_ENV)
    if not password:
        password = getpass.getpass(f"password for {args.name}: ")
        if password != getpass.getpass("again: "):
            print("the passwords differ; nothing changed")
            return 1
    with psycopg.connect(ready_warehouse()) as conn, conn.transaction():
        access.create_login(conn, args.name, args.role, password)
    print(f"login {args.name} is a member of {access.GROUP_ROLES[args.role]}")
    return 0


def _issue_token(args: argparse.Namespace) -> int:
    with psycopg.connect(ready_warehouse()) as conn, conn.transaction():
        try:
            token = frontline.issue_token(conn, args.holder, args.role)
        except ValueError as error:
            raise CommandError(f"onetoone access issue-token: {error}") from None
    print(token)
    return 0


def _revoke_token(args: argparse.Namespace) -> int:
    with psycopg.connect(ready_warehouse()) as conn, conn.transaction():
        revoked = frontline.revoke_token(conn, args.token_id)
    if not revoked:
        raise CommandError(f"onetoone access revoke-token: no active token {args.token_id!r}",
                           code=1)
    print(f"token {args.token_id} revoked")
    return 0
