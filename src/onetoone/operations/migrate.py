"""Creating and migrating the warehouse: every stage's DDL, applied once per run, in order.

Each stage owns its schema's DDL in one file (``stages/<stage>/schema.sql``, the erasure
registry in ``foundation/erasures.sql``); every file is idempotent and adds what an older
warehouse lacks, so migrating an existing warehouse is the same command as creating one:
``onetoone warehouse migrate`` (the daily DAG's first task runs it too).
"""

from __future__ import annotations

import psycopg

from onetoone.foundation import erasures
from onetoone.stages import ingest, quality
from onetoone.stages.identity import store as identity_store
from onetoone.stages.serving import access, frontline
from onetoone.stages.value import store as value_store

# In dependency order: the registry first (loads honour it), the roles last (they grant on
# every schema).
SCHEMA_OWNERS = (
    ("audit (erasure registry)", erasures.ensure_schema),
    ("raw", ingest.ensure_schema),
    ("identity", identity_store.ensure_schema),
    ("value", value_store.ensure_schema),
    ("audit (quality results)", quality.ensure_schema),
    ("audit (front-line tokens and lookups)", frontline.ensure_schema),
    ("roles and grants", access.ensure_roles),
)
MIGRATION_LOCK = "onetoone.migrate"


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply every stage's DDL in the caller's transaction; answer what was applied."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (MIGRATION_LOCK,))
    for _, ensure in SCHEMA_OWNERS:
        ensure(conn)
    return [name for name, _ in SCHEMA_OWNERS]


def migrate_warehouse(warehouse: str) -> list[str]:
    """Create or migrate the warehouse at this libpq URI, in one transaction."""
    with psycopg.connect(warehouse) as conn, conn.transaction():
        return migrate(conn)
