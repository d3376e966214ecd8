"""Keeping forgotten people forgotten: the scrub every batch gets before it commits.

Rerunning an old interval, or a re-delivered file, reloads the source systems' own copies of
people who were erased. ``scrub_erased`` erases them again inside the batch's transaction,
from the registry in ``foundation.erasures``; ``onetoone forget`` uses the same declarations of
what is personal. Its UPDATEs leave the loaded values in dead row versions: once the batch
commits, ``vacuum_scrubbed`` vacuums the tables it changed, as ``forget`` does.
"""

from __future__ import annotations

import re
from collections import Counter

import psycopg
from psycopg import sql

from onetoone.foundation import erasures
from onetoone.foundation.db import nulls, relation_exists, sha256_hex, vacuum_away_dead_rows

# The raw layer's personal fields are declared in foundation, where quality reads them too.
from onetoone.foundation.personal import SOURCE_TABLES, WEB_PERSONAL_KEYS, SourceTable

__all__ = ["SOURCE_TABLES", "WEB_PERSONAL_KEYS", "SourceTable", "scrub_erased",
           "vacuum_scrubbed"]


# Quarantined lines that can name a customer record, per source.
RECORD_ENTITY = {"erp": "customers", "callcenter": "calls", "web": "events"}
TOKEN = re.compile(r"[\w.+@-]+")


def erase_attempt_reasons(conn: psycopg.Connection, quarantine_ids: list[int]) -> None:
    """Re-processing attempts keep the reason a row had, which may quote its values."""
    if quarantine_ids and relation_exists(conn, "raw", "quarantine_attempts"):
        conn.execute("update raw.quarantine_attempts set reason_before = %s"
                     " where quarantine_id = any(%s)", (erasures.ERASED_REASON, quarantine_ids))


def scrub_erased(conn: psycopg.Connection, batch_id: int) -> dict[str, int]:
    """Erase again, in a batch just loaded, what belongs to forgotten people; answer the tables
    changed (``schema.table``) with their rows changed. Empty: nothing to vacuum.

    Call this in the batch's transaction after its rows and quarantine lines are written. It
    waits for a running erasure (shared lock), so a batch never commits data of a person
    forgotten meanwhile."""
    erasures.lock_for_load(conn)
    source, entity = conn.execute(
        "select source, entity from raw.load_batches where batch_id = %s", (batch_id,)).fetchone()
    # As in forget: an erased record loses every personal field, another record only an
    # erased email on it.
    erased = sql.SQL("in (select subject_hash from audit.erased_subjects)")
    statements = [
        (table.table,
         sql.SQL("update {t} set {nulls} where _batch_id = %(batch)s and {hash} {erased}").format(
            t=sql.Identifier("raw", table.table), nulls=nulls(table.personal), erased=erased,
            hash=sha256_hex(sql.SQL("{} || {}").format(sql.Literal(f"{table.source}:"),
                                                        sql.Identifier(table.record_id)))),
         sql.SQL("update {t} set email = null where _batch_id = %(batch)s and {hash} {erased}")
         .format(t=sql.Identifier("raw", table.table), erased=erased,
                 hash=sha256_hex(sql.SQL("lower(trim(email))"))))
        for table in SOURCE_TABLES if (table.source, table.entity) == (source, entity)]
    if (source, entity) == ("web", "events"):
        statements.append((
            "web_events",
            sql.SQL("update raw.web_events set payload = payload - %(keys)s::text[]"
                    " where _batch_id = %(batch)s and payload ?| %(keys)s::text[]"
                    " and {hash} {erased}").format(
                hash=sha256_hex(sql.SQL("'web:' || account_id")), erased=erased),
            sql.SQL("update raw.web_events set payload = payload - 'email'"
                    " where _batch_id = %(batch)s and {hash} {erased}").format(
                hash=sha256_hex(sql.SQL("lower(trim(payload->>'email'))")), erased=erased)))
    params = {"batch": batch_id, "keys": list(WEB_PERSONAL_KEYS)}
    changed: Counter[str] = Counter()
    for table, *pair in statements:
        changed[f"raw.{table}"] += sum(conn.execute(statement, params).rowcount
                                       for statement in pair)
    scrubbed = {table: rows for table, rows in changed.items() if rows}
    if quarantined := _scrub_quarantine(conn, batch_id, source):
        scrubbed["raw.quarantine"] = quarantined
        # their re-processing attempts' reasons were rewritten with them (not counted apart)
        scrubbed["raw.quarantine_attempts"] = 0
    return scrubbed


def vacuum_scrubbed(conn: psycopg.Connection, scrubbed: dict[str, int]) -> None:
    """VACUUM (ANALYZE) the tables a scrub changed, once its transaction committed (VACUUM
    cannot run in one, and before the commit the loaded row versions are still live): the
    dead versions holding the erased values go, and the statistics are sampled again without
    them. ``conn`` must be in autocommit mode."""
    vacuum_away_dead_rows(conn, scrubbed)


def _scrub_quarantine(conn: psycopg.Connection, batch_id: int, source: str) -> int:
    """Quarantined lines are text: look for erased record ids and emails among their tokens."""
    lines = conn.execute("select quarantine_id, concat_ws(' ', raw_record, corrected_record)"
                         " from raw.quarantine where batch_id = %s and (raw_record is not null"
                         " or corrected_record is not null)", (batch_id,)).fetchall()
    by_hash: dict[str, set[int]] = {}
    for quarantine_id, text in lines:
        for token in TOKEN.findall(text):
            value = (erasures.normalise_email(token) if "@" in token
                     else f"{source}:{token}")
            by_hash.setdefault(erasures.subject_hash(value), set()).add(quarantine_id)
    if not by_hash:
        return 0
    found = erasures.erased_among(conn, by_hash)
    ids = sorted({qid for h in found for qid in by_hash[h]})
    if not ids:
        return 0
    erase_attempt_reasons(conn, ids)
    return conn.execute(
        "update raw.quarantine set raw_record = null, corrected_record = null, reason = %s"
        " where quarantine_id = any(%s)", (erasures.ERASED_REASON, ids)).rowcount
