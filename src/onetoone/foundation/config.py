"""Where things live and how to reach the warehouse.

Everything is derived from two environment variables so that a fresh clone runs with no setup:
``ONETOONE_HOME`` (the git-ignored state folder, default ``<repo>/.state``) and, to use an external
PostgreSQL instead of the embedded one, ``ONETOONE_WAREHOUSE_URL`` (a libpq URI).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import parse_qs, quote, unquote, urlparse

# The checkout (editable install); a container that installs the package sets ONETOONE_PROJECT_DIR
# to where it mounts dbt_project/, expectations/ and include/.
PROJECT_ROOT = Path(os.environ.get("ONETOONE_PROJECT_DIR") or Path(__file__).resolve().parents[3])
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DAGS_DIR = PROJECT_ROOT / "dags"
PLUGINS_DIR = PROJECT_ROOT / "plugins"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
INCLUDE_DIR = PROJECT_ROOT / "include"

WAREHOUSE_DB = "onetoone"
ERP_SOURCE_DB = "erp_source"
AIRFLOW_CONN_ID = "onetoone_warehouse"
ERP_CONN_ID = "onetoone_erp_source"

# The source systems, in the order the pipeline loads them. Adding one starts here (README:
# "Adding a source").
SOURCES = ("erp", "callcenter", "web")

# The warehouse's schemas and who writes each: a stage's own DDL creates its schema
# (stages/*/schema.sql), dbt builds the others.
RAW_SCHEMA = "raw"                  # ingest
IDENTITY_SCHEMA = "identity"        # identity
VALUE_SCHEMA = "value"              # value
AUDIT_SCHEMA = "audit"              # quality, and the erasure registry (foundation.erasures)
BUILD_SCHEMA = "marts_build"        # dbt builds marts here; quality checks them here
PUBLISHED_SCHEMA = "marts"          # serving publishes checked marts here
BI_SCHEMA = "bi"                    # serving: views of the published marts without personal
                                    # columns; the only relations BI reads
DBT_SCHEMAS = ("staging", "intermediate", "snapshots", "seeds")
PROJECT_SCHEMAS = (RAW_SCHEMA, IDENTITY_SCHEMA, VALUE_SCHEMA, AUDIT_SCHEMA, BUILD_SCHEMA,
                   PUBLISHED_SCHEMA, BI_SCHEMA, *DBT_SCHEMAS)


@dataclass(frozen=True)
class Paths:
    """The state folder's layout (all git-ignored, safe to delete when the warehouse is stopped)."""

    home: Path

    @property
    def pgdata(self) -> Path:
        return self.home / "pgdata"

    @property
    def pg_socket_dir(self) -> Path:
        return self.home / "run"

    @property
    def pg_password_file(self) -> Path:
        """The embedded server's superuser password, generated at first start (never committed)."""
        return self.home / "warehouse.password"

    @property
    def pgpass(self) -> Path:
        """A libpq password file for the embedded server, so psql lines need no secret."""
        return self.home / "pgpass"

    @property
    def airflow_home(self) -> Path:
        return self.home / "airflow"

    @property
    def landing(self) -> Path:
        """Where the source systems' extracts land (the demo's generator writes here)."""
        return self.home / "landing"

    @property
    def gx_root(self) -> Path:
        return self.home / "gx"

    @property
    def data_docs(self) -> Path:
        return self.gx_root / "data_docs"

    @property
    def dbt_target(self) -> Path:
        return self.home / "dbt" / "target"

    @property
    def dbt_logs(self) -> Path:
        return self.home / "dbt" / "logs"

    @property
    def logs(self) -> Path:
        """Full logs of commands whose console shows only progress (the demo's runs)."""
        return self.home / "logs"

    @property
    def identity_models(self) -> Path:
        return self.home / "identity" / "models"


def paths() -> Paths:
    return Paths(Path(os.environ.get("ONETOONE_HOME", PROJECT_ROOT / ".state")).resolve())


# The state folder holds personal data (landing extracts, GX results, identity state, logs), so
# what the project writes there is its owner's only. The umask is set once where a process of
# the project starts (the CLI, the Airflow plugin), for the files libraries write (GX, dbt,
# Airflow); the project's own writers set the modes explicitly too, for callers without it.
PRIVATE_UMASK = 0o077
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def keep_files_private() -> None:
    """Mask group and other bits of every file and folder this process (and its children)
    creates from now on; a stricter umask already set stays."""
    os.umask(os.umask(PRIVATE_UMASK) | PRIVATE_UMASK)


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents owner-only (0700); answer it."""
    missing = [folder for folder in (path, *path.parents) if not folder.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=PRIVATE_DIR_MODE, exist_ok=True)
        folder.chmod(PRIVATE_DIR_MODE)  # mkdir's mode goes through the umask
    return path


def open_private(path: Path, mode: str = "wb", **options: Any) -> IO[Any]:
    """Open ``path`` for writing (truncated) as an owner-only file, also when it existed with
    wider permissions."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE_MODE)
    os.fchmod(descriptor, PRIVATE_FILE_MODE)
    return open(descriptor, mode, **options)


def private_file(path: Path) -> Path:
    """Make a written file owner-only (0600); answer it."""
    path.chmod(PRIVATE_FILE_MODE)
    return path


def embedded_password() -> str:
    password_file = paths().pg_password_file
    return password_file.read_text().strip() if password_file.exists() else ""


DEFAULT_EMBEDDED_PORT = 5432
TCP_PORT_ENV = "ONETOONE_WAREHOUSE_TCP_PORT"


def requested_tcp_port() -> int | None:
    """The port BI tools should reach the embedded server on, if one is asked for."""
    value = os.environ.get(TCP_PORT_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 < int(value) < 65536:
        raise ValueError(f"{TCP_PORT_ENV}={value!r} is not a port number")
    return int(value)


def embedded_port() -> int:
    """The embedded server's port: the one it runs on (its postmaster.pid says so), else the
    one it will start on. The Unix socket's name carries it too, so every client needs it."""
    try:
        return int((paths().pgdata / "postmaster.pid").read_text().splitlines()[3])
    except (OSError, ValueError, IndexError):
        return requested_tcp_port() or DEFAULT_EMBEDDED_PORT


def embedded_url(database: str, user: str = "postgres") -> str:
    """libpq URI of a database on the embedded server (Unix socket, password auth)."""
    password = quote(embedded_password(), safe="") if user == "postgres" else ""
    credentials = f"{user}:{password}" if password else user
    socket_dir = quote(str(paths().pg_socket_dir), safe="/")
    return f"postgresql://{credentials}@/{database}?host={socket_dir}&port={embedded_port()}"


def warehouse_url() -> str:
    return os.environ.get("ONETOONE_WAREHOUSE_URL") or embedded_url(WAREHOUSE_DB)


def erp_source_url() -> str:
    return os.environ.get("ONETOONE_ERP_URL") or embedded_url(ERP_SOURCE_DB)


def uses_embedded_warehouse() -> bool:
    return "ONETOONE_WAREHOUSE_URL" not in os.environ


@dataclass(frozen=True)
class ConnectionParts:
    """A libpq URI taken apart; ``host`` may be a Unix socket directory."""

    host: str
    port: int
    user: str
    password: str
    dbname: str


def connection_parts(libpq_url: str) -> ConnectionParts:
    parsed = urlparse(libpq_url)
    query = parse_qs(parsed.query)
    return ConnectionParts(
        host=query.get("host", [parsed.hostname or "localhost"])[0],
        port=parsed.port or int(query.get("port", ["5432"])[0]),
        user=unquote(parsed.username or "postgres"),
        password=unquote(parsed.password or ""),
        dbname=parsed.path.lstrip("/"),
    )
