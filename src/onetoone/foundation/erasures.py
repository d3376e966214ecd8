"""The registry of erased people: what `onetoone forget` records and every load honours.

It holds no personal data: only the SHA-256 of each erased source record (``source:id``) and
email, and per erasure who asked, why and how many rows went. Loads take the erasure lock shared
while they scrub a batch, and an erasure takes it exclusively, so no batch commits data of a
person being forgotten meanwhile.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

import psycopg
from psycopg.types.json import Jsonb

from onetoone.foundation.db import apply_ddl

ERASED_REASON = "erased on request (right to be forgotten)"
ERASURE_LOCK = "onetoone.erasure"


def subject_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


def record_hash(source: str, source_record_id: str) -> str:
    return subject_hash(f"{source}:{source_record_id}")


# pragma: no mutate start
# From here on every line is a statement run on PostgreSQL: only tests/integration/test_forget.py
# reaches them, and `make mutate` runs unit tests only (see README, Mutation testing).
def ensure_schema(conn: psycopg.Connection) -> None:
    apply_ddl(conn, "onetoone.foundation", "erasures.sql")


def lock_for_erasure(conn: psycopg.Connection) -> None:
    """Exclusive, until the caller's transaction ends: no load scrubs meanwhile."""
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (ERASURE_LOCK,))


def lock_for_load(conn: psycopg.Connection) -> None:
    """Shared, until the caller's transaction ends: waits for a running erasure."""
    conn.execute("select pg_advisory_xact_lock_shared(hashtext(%s))", (ERASURE_LOCK,))


def erased_among(conn: psycopg.Connection, hashes: Iterable[str]) -> set[str]:
    """Which of these subject hashes belong to erased people."""
    rows = conn.execute("select subject_hash from audit.erased_subjects"
                        " where subject_hash = any(%s)", (sorted(set(hashes)),)).fetchall()
    return {row[0] for row in rows}


def record_erasure(conn: psycopg.Connection, *, requested_by: str, reason: str,
                   requested_with: str, customer_keys: Iterable[str],
                   records: Iterable[tuple[str, str]], emails: Iterable[str],
                   counts: dict[str, int]) -> int:
    """Register one erasure and the hashes of what it erased; answer its id."""
    records = sorted(set(records))
    erasure_id = conn.execute(
        """
        insert into audit.erasures (requested_by, reason, requested_with, customer_key_hashes,
                                    source_records, counts)
        values (%s, %s, %s, %s, %s, %s) returning erasure_id
        """,
        (requested_by, reason, requested_with, sorted(subject_hash(k) for k in customer_keys),
         len(records), Jsonb(counts))).fetchone()[0]
    hashes = {record_hash(source, rid) for source, rid in records}
    hashes |= {subject_hash(normalise_email(e)) for e in emails}
    with conn.cursor() as cur:
        cur.executemany(
            "insert into audit.erased_subjects (subject_hash, erasure_id) values (%s, %s)"
            " on conflict (subject_hash) do nothing",
            [(h, erasure_id) for h in sorted(hashes)])
    return erasure_id
# pragma: no mutate end
