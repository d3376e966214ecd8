"""Right to be forgotten: erase one person's personal data from the warehouse, and keep it erased.

Decisions (docs/access-and-privacy.md explains them to operators):

- Personal fields are set to null; rows stay. Orders, calls and web events are business facts
  that other figures (revenue, cost to serve, portfolio KPIs) are built from, and the dbt tests
  tie every fact to a ``dim_customers`` row. The person's mart rows then look as the next dbt
  build makes them from the erased raw layer.
- ``identity.customer_keys`` is kept: it maps source record ids to a pseudonymous customer key
  and holds nothing personal itself, and without it the kept facts would lose their customer.
  Later identity runs leave the person's records (registered below) out of matching and keep
  them under that key, never handed to anyone else (``identity.store.read_erased_keys``).
  ``identity.standardised_records`` (the records' standardised values) has the person's
  personal fields nulled like the records table it is made from.
- By email, the person is every record holding it plus every record of their customer key; an
  email that leads to several keys (a shared family address) is refused as ambiguous. The
  person's emails found on other people's records (that family address) are nulled there too,
  and nothing else of those records.
- A quarantined line is raw text: its ``raw_record`` (and an engineer's ``corrected_record``) is
  emptied and its reason says so, also in its re-processing attempts. The row stays so that the
  ledger's ``rows_read = rows_loaded + rows_quarantined`` still reconciles.
- ``audit.erasures`` records that an erasure happened (who asked, why, counts, the sha256 of the
  customer keys) and ``audit.erased_subjects`` the sha256 of every erased source record id and
  email, so that ``scrub_erased`` can erase them again when an older interval is re-ingested.
- Identity's incremental state (the standardised records and their hashes, the scored pairs) is
  deleted whole: the next identity run standardises and re-scores everyone from what is left.
- An UPDATE leaves the old row versions behind as dead tuples, and the planner's column
  statistics (``pg_stats``: most common values, histogram bounds) keep values sampled before.
  Once the erasure commits, every table it changed is vacuumed (dead tuples go) and analysed
  (statistics are rebuilt from the live rows only); the auditor role reads ``pg_stats`` of the
  audit tables, so stale statistics there would show it the erased values.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from onetoone.foundation import erasures
from onetoone.foundation.config import BUILD_SCHEMA, PUBLISHED_SCHEMA
from onetoone.foundation.db import has_column, nulls, relation_exists, vacuum_away_dead_rows
from onetoone.foundation.erasures import ERASED_REASON, normalise_email, subject_hash
from onetoone.runtime.dbt import MartColumns, manifest_file, mart_columns
from onetoone.stages.identity import store as identity_store
from onetoone.stages.identity.dashboards import remove_steward_dashboards
from onetoone.stages.ingest.scrub import (
    RECORD_ENTITY,
    SOURCE_TABLES,
    WEB_PERSONAL_KEYS,
    erase_attempt_reasons,
)

log = logging.getLogger(__name__)

# intermediate.int_customer_records_unioned is a table (identity reads it) holding the same
# personal attributes as dim_customers, keyed by (source, source_record_id).
RECORDS_TABLE = ("intermediate", "int_customer_records_unioned")
RECORDS_PERSONAL = ("first_name", "last_name", "full_name", "birth_date", "email", "phone",
                    "address_line", "postcode", "national_id")
# identity.standardised_records: each record's standardised values (the golden record's
# candidates), written by every identity run from the records table above.
STANDARDISED_TABLE = ("identity", "standardised_records")
STANDARDISED_PERSONAL = ("first_name", "last_name", "birth_date", "email", "phone", "postcode",
                         "national_id", "address", "surname_1", "surname_2")
# The golden record's candidates, one row per customer and attribute, the value as text; an
# incremental table (by customer), rebuilt for a customer whose records_fingerprint changed.
GOLDEN_VALUES_TABLE = ("intermediate", "int_customer_golden_values")
MIN_TEXT_VALUE = 4

__all__ = ["AmbiguousSubject", "ErasureBlocked", "ErasureReport", "forget", "subject_hash"]


Marts = dict[str, MartColumns]


class ErasureBlocked(RuntimeError):
    """The erasure cannot be complete, so nothing was erased."""


class AmbiguousSubject(LookupError):
    """An email leads to several customers: erasing them all could erase someone else."""


@dataclass(frozen=True)
class ErasureReport:
    erasure_id: int
    customer_keys: int
    source_records: int
    counts: dict[str, int]

    def describe(self) -> str:
        lines = [f"erasure {self.erasure_id}: {self.customer_keys} customer key(s), "
                 f"{self.source_records} source record(s)"]
        lines += [f"  {table}: {rows} row(s)" for table, rows in sorted(self.counts.items())]
        return "\n".join(lines)


@dataclass
class _Subject:
    """The person as the warehouse knows them, and the values that identify them in free text."""

    customer_keys: set[str]
    records: set[tuple[str, str]]
    requested_emails: set[str]
    emails: set[str] = field(default_factory=set)
    phones: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)

    def record_ids(self, source: str) -> list[str]:
        return sorted(rid for src, rid in self.records if src == source)

    def text_values(self, *, with_names: bool) -> list[str]:
        """Lower-cased values to look for in free text; too short ones would match anything."""
        values = self.emails | self.requested_emails | self.phones
        if with_names:
            values |= self.names
        return sorted({v.lower() for v in values if len(v) >= MIN_TEXT_VALUE})




def forget(conninfo: str, *, customer_key: str | None = None, email: str | None = None,
           requested_by: str, reason: str,
           manifest_path: Path | None = None) -> ErasureReport:
    """Erase one person: a customer key's records, or the records holding an email together
    with every record of their customer key (AmbiguousSubject if that is more than one key).

    One transaction: either everything listed in the module docstring is erased and recorded,
    or nothing is. Raises LookupError when the warehouse holds nothing of that person."""
    if (customer_key is None) == (email is None):
        raise ValueError("give exactly one of customer_key or email")
    if email is not None and "@" not in email:
        raise ValueError("that is not an email")
    if not requested_by.strip() or not reason.strip():
        raise ValueError("an erasure needs requested_by and reason")
    marts = mart_columns(manifest_path)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        erasures.lock_for_erasure(conn)
        subject = _resolve(conn, customer_key, email)
        erased: Counter[str] = Counter()
        for step in (_erase_raw, _erase_records_table, _erase_golden_values, _erase_marts,
                     _erase_emails_elsewhere, _erase_audit_samples):
            erased.update(step(conn, subject, marts))
        counts = {table: rows for table, rows in sorted(erased.items()) if rows}
        if not counts:
            raise LookupError("the warehouse holds nothing of that person")
        erasure_id = _record(conn, subject, counts, requested_by=requested_by, reason=reason,
                             requested_with="customer_key" if customer_key else "email")
    report = ErasureReport(erasure_id, len(subject.customer_keys), len(subject.records), counts)
    # The quarantine's re-processing attempts were rewritten with it (not counted apart).
    vacuum_and_analyse(conninfo, {*counts, *(["raw.quarantine_attempts"]
                                             if "raw.quarantine" in counts else [])})
    # Identity's incremental state holds each record's standardised values and their hashes:
    # drop it all, and the next identity run re-scores everything from what is left.
    shutil.rmtree(identity_store.scoring_dir(), ignore_errors=True)
    # The stewards' dashboards show record values; the next run draws them without the person.
    remove_steward_dashboards()
    log.info("%s", report.describe())
    return report


def vacuum_and_analyse(conninfo: str, tables: set[str]) -> None:
    """VACUUM (ANALYZE) these ``schema.table``s once an erasure committed: VACUUM cannot run in
    a transaction, and before the commit the old rows are still live."""
    with psycopg.connect(conninfo, autocommit=True) as conn:
        vacuum_away_dead_rows(conn, tables)


def _resolve(conn: psycopg.Connection, customer_key: str | None,
             email: str | None) -> _Subject:
    subject = _Subject(customer_keys={customer_key} if customer_key else set(), records=set(),
                       requested_emails={normalise_email(email)} if email else set())
    if email:
        emails = sorted(subject.requested_emails)
        for table in SOURCE_TABLES:
            subject.records |= {(table.source, r[0]) for r in conn.execute(
                sql.SQL("select distinct {} from {} where lower(trim(email)) = any(%s)"
                        " and {} is not null").format(
                    sql.Identifier(table.record_id), sql.Identifier("raw", table.table),
                    sql.Identifier(table.record_id)), (emails,))}
        subject.records |= {("web", r[0]) for r in conn.execute(
            "select distinct account_id from raw.web_events"
            " where lower(trim(payload->>'email')) = any(%s) and account_id is not null",
            (emails,))}
        sources, ids = zip(*subject.records, strict=True) if subject.records else ((), ())
        subject.customer_keys |= {r[0] for r in conn.execute(
            "select distinct k.customer_key from identity.customer_keys k"
            " join unnest(%s::text[], %s::text[]) as r (source, id)"
            " on k.source = r.source and k.source_record_id = r.id",
            (list(sources), list(ids)))}
        if len(subject.customer_keys) > 1:
            raise AmbiguousSubject(
                f"that email is on records of {len(subject.customer_keys)} customers "
                f"({', '.join(sorted(subject.customer_keys))}), e.g. a shared family address; "
                "check which are this person and forget each by customer key")
    subject.records |= {(r[0], r[1]) for r in conn.execute(
        "select source, source_record_id from identity.customer_keys where customer_key = any(%s)",
        (sorted(subject.customer_keys),))}
    if customer_key and not subject.records:
        raise LookupError(f"customer key {customer_key!r} is not in identity.customer_keys")
    return subject


def _erase_raw(conn: psycopg.Connection, subject: _Subject, _: Marts) -> dict[str, int]:
    """Null the personal fields of the person's raw records, noting first the values that
    identify them elsewhere."""
    counts = {}
    for table in SOURCE_TABLES:
        target = sql.Identifier("raw", table.table)
        where = sql.SQL("{} = any(%s)").format(sql.Identifier(table.record_id))
        params = (subject.record_ids(table.source),)
        names = [c for c in table.personal if c in ("first_name", "last_name", "caller_name")]
        for row in conn.execute(sql.SQL("select email, phone, {} from {} where {}").format(
                sql.SQL(", ").join(map(sql.Identifier, names)), target, where), params):
            _note(subject, email=row[0], phone=row[1], names=row[2:])
        counts[f"raw.{table.table}"] = conn.execute(
            sql.SQL("update {} set {} where {}").format(target, nulls(table.personal), where),
            params).rowcount
    params = (subject.record_ids("web"), list(WEB_PERSONAL_KEYS))
    for row in conn.execute(
            "select payload->>'email', payload->>'phone', payload->>'first_name',"
            " payload->>'last_name' from raw.web_events"
            " where account_id = any(%s) and payload ?| %s::text[]", params):
        _note(subject, email=row[0], phone=row[1], names=row[2:])
    counts["raw.web_events"] = conn.execute(
        "update raw.web_events set payload = payload - %s::text[]"
        " where account_id = any(%s) and payload ?| %s::text[]",
        (list(WEB_PERSONAL_KEYS), *params)).rowcount
    counts["raw.quarantine"] = _erase_quarantine(conn, subject)
    return counts


def _note(subject: _Subject, *, email: str | None, phone: str | None,
          names: tuple[str | None, ...]) -> None:
    if email:
        subject.emails.add(normalise_email(email))
    if phone:
        subject.phones.add(phone.strip())
    full_name = " ".join(n.strip() for n in names if n and n.strip())
    if full_name:
        subject.names.add(full_name)


def _erase_quarantine(conn: psycopg.Connection, subject: _Subject) -> int:
    """Empty quarantined lines (as delivered or as corrected) that mention the person's email,
    phone or one of their records."""
    id_patterns = [(source, RECORD_ENTITY[source], rf"(^|\W){re.escape(rid)}($|\W)")
                   for source, rid in sorted(subject.records)]
    sources, entities, patterns = (list(x) for x in zip(*id_patterns, strict=True)) \
        if id_patterns else ([], [], [])
    erased = [r[0] for r in conn.execute(
        """
        update raw.quarantine q set raw_record = null, corrected_record = null,
               reason = %(reason)s
         where (q.raw_record is not null or q.corrected_record is not null) and (
               exists (select 1 from unnest(%(values)s::text[]) v
                        where strpos(lower(concat_ws(' ', q.raw_record, q.corrected_record)),
                                     v) > 0)
            or exists (select 1 from unnest(%(sources)s::text[], %(entities)s::text[],
                                            %(patterns)s::text[]) as p (source, entity, pattern)
                        where q.source = p.source and q.entity = p.entity
                          and concat_ws(' ', q.raw_record, q.corrected_record) ~ p.pattern))
        returning q.quarantine_id
        """,
        {"reason": ERASED_REASON,
         "values": subject.text_values(with_names=False),
         "sources": sources, "entities": entities, "patterns": patterns},
    )]
    erase_attempt_reasons(conn, erased)
    return len(erased)


def _erase_records_table(conn: psycopg.Connection, subject: _Subject,
                         _: Marts) -> dict[str, int]:
    """The person's rows of the tables keyed by (source, source_record_id)."""
    sources, ids = (list(x) for x in zip(*subject.records, strict=True)) \
        if subject.records else ([], [])
    counts = {}
    for table, personal in ((RECORDS_TABLE, RECORDS_PERSONAL),
                            (STANDARDISED_TABLE, STANDARDISED_PERSONAL)):
        if not relation_exists(conn, *table):
            continue
        counts[".".join(table)] = conn.execute(
            sql.SQL("update {} t set {} from unnest(%s::text[], %s::text[]) as r (source, id)"
                    " where t.source = r.source and t.source_record_id = r.id").format(
                sql.Identifier(*table), nulls(personal)),
            (sources, ids)).rowcount
    return counts


def _erase_golden_values(conn: psycopg.Connection, subject: _Subject,
                         _: Marts) -> dict[str, int]:
    """Every attribute value of the person's keys, and their emails on other customers' rows."""
    if not relation_exists(conn, *GOLDEN_VALUES_TABLE):
        return {}
    emails = sorted(subject.emails | subject.requested_emails)
    # The table is incremental by customer: a null fingerprint makes the next run rebuild these
    # customers from the erased records (int_customer_golden_values, drop_changed_golden_values).
    fingerprint = sql.SQL("")
    if has_column(conn, *GOLDEN_VALUES_TABLE, "records_fingerprint"):
        fingerprint = sql.SQL(", records_fingerprint = null")
    rows = conn.execute(
        sql.SQL("update {} set attribute_value = null{} where customer_key = any(%s)"
                " or (attribute_name = 'email' and lower(trim(attribute_value)) = any(%s))"
                ).format(sql.Identifier(*GOLDEN_VALUES_TABLE), fingerprint),
        (sorted(subject.customer_keys), emails)).rowcount
    return {".".join(GOLDEN_VALUES_TABLE): rows}


def _erase_marts(conn: psycopg.Connection, subject: _Subject, marts: Marts) -> dict[str, int]:
    """Null the manifest's personal columns in the person's rows of every built and published
    mart. A table the manifest does not know blocks the erasure: it may hold personal data."""
    counts = {}
    for schema, table in _mart_tables(conn, marts):
        personal = sorted(marts[table].personal)
        if not has_column(conn, schema, table, "customer_key"):
            raise ErasureBlocked(f"{schema}.{table} has personal columns but no customer_key "
                                 "to find the person's rows by")
        counts[f"{schema}.{table}"] = conn.execute(
            sql.SQL("update {} set {} where customer_key = any(%s)").format(
                sql.Identifier(schema, table), nulls(personal)),
            (sorted(subject.customer_keys),)).rowcount
    return counts


def _erase_emails_elsewhere(conn: psycopg.Connection, subject: _Subject,
                            marts: Marts) -> dict[str, int]:
    """The person's emails can also sit on other people's records (a shared family address):
    there only the email goes."""
    emails = sorted(subject.emails | subject.requested_emails)
    columns = [("raw", t.table, "email") for t in SOURCE_TABLES]
    for table in (RECORDS_TABLE, STANDARDISED_TABLE):
        if relation_exists(conn, *table):
            columns.append((*table, "email"))
    columns += [(schema, table, column) for schema, table in _mart_tables(conn, marts)
                for column in sorted(marts[table].personal)]
    counts: Counter[str] = Counter()
    for schema, table, column in columns:
        counts[f"{schema}.{table}"] += conn.execute(
            sql.SQL("update {t} set {c} = null where lower(trim({c}::text)) = any(%s)").format(
                t=sql.Identifier(schema, table), c=sql.Identifier(column)), (emails,)).rowcount
    counts["raw.web_events"] = conn.execute(
        "update raw.web_events set payload = payload - 'email'"
        " where lower(trim(payload->>'email')) = any(%s)", (emails,)).rowcount
    return counts


def _mart_tables(conn: psycopg.Connection, marts: Marts) -> list[tuple[str, str]]:
    """The built and published marts with personal columns (all must be in the manifest)."""
    tables = conn.execute(
        """
        select table_schema, table_name from information_schema.tables
         where table_schema = any(%s) and table_type = 'BASE TABLE'
           and table_name not like '%%\\_\\_dbt\\_%%'
         order by 1, 2
        """,
        ([BUILD_SCHEMA, PUBLISHED_SCHEMA],)).fetchall()
    unknown = [f"{s}.{t}" for s, t in tables if t not in marts]
    if unknown:
        raise ErasureBlocked(
            f"not in the dbt manifest ({manifest_file()}), so their personal columns are "
            f"unknown: {', '.join(unknown)}; run `onetoone dbt parse` or drop them")
    return [(schema, table) for schema, table in tables if marts[table].personal]


def _erase_audit_samples(conn: psycopg.Connection, subject: _Subject,
                         _: Marts) -> dict[str, int]:
    """Great Expectations keeps samples of failing values; drop those that show the person."""
    if not relation_exists(conn, "audit", "expectation_results"):
        return {}
    values = subject.text_values(with_names=True)
    rows = conn.execute(
        """
        update audit.expectation_results
           set partial_unexpected_list = null, observed_value = null
         where exists (select 1 from unnest(%s::text[]) v
                        where strpos(lower(coalesce(partial_unexpected_list::text, '')
                                           || coalesce(observed_value::text, '')), v) > 0)
        """,
        (values,)).rowcount
    return {"audit.expectation_results": rows}


def _record(conn: psycopg.Connection, subject: _Subject, counts: dict[str, int], *,
            requested_by: str, reason: str, requested_with: str) -> int:
    return erasures.record_erasure(
        conn, requested_by=requested_by, reason=reason, requested_with=requested_with,
        customer_keys=subject.customer_keys, records=subject.records,
        emails=subject.emails | subject.requested_emails, counts=counts)
