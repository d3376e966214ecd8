"""Right to be forgotten: erase one person's personal data from the warehouse, and keep it erased.

Decisions (docs/access-and-privacy.md explains them to operators):

- Personal fields are set to null; rows stay. Orders, calls and web events are business facts
  that other figures (revenue, cost to serve, portfolio KPIs) are built from, and the dbt tests
  tie every fact to a ``dim_customers`` row. The person's mart rows then look as the next dbt
  build makes them from the erased raw layer.
- ``identity.customer_keys`` is kept: it maps source record ids to a pseudonymous customer key
  and holds nothing personal itself, and without it the kept facts would lose their customer.
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
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from onetoone import access, config, identity_store
from onetoone.publish import BUILD_SCHEMA, PUBLISHED_SCHEMA

log = logging.getLogger(__name__)

DDL = """
create schema if not exists audit;

create table if not exists audit.erasures (
    erasure_id           bigserial primary key,
    erased_at            timestamptz not null default now(),
    requested_by         text not null,
    reason               text not null,
    requested_with       text not null,     -- customer_key | email
    customer_key_hashes  text[] not null,   -- sha256 of each customer key erased
    source_records       integer not null,
    counts               jsonb not null     -- rows erased per table
);

create table if not exists audit.erased_subjects (
    subject_hash  text primary key,         -- sha256 of `source:source_record_id` or of an email
    erased_at     timestamptz not null default now(),
    erasure_id    bigint not null references audit.erasures (erasure_id)
);
"""

ERASED_REASON = "erased on request (right to be forgotten)"
# Serialises erasures with ingest batches (see scrub_erased).
ERASURE_LOCK = "onetoone.erasure"


@dataclass(frozen=True)
class SourceTable:
    """A raw table of customer records: the column naming the record, and the personal ones."""

    table: str
    source: str
    entity: str
    record_id: str
    personal: tuple[str, ...]


# The personal fields of the raw layer (docs/data-contracts.md, section 2).
SOURCE_TABLES = (
    SourceTable("erp_customers", "erp", "customers", "customer_id",
                ("first_name", "last_name", "tax_id", "email", "phone", "address_line",
                 "postcode", "birth_date")),
    SourceTable("callcenter_calls", "callcenter", "calls", "contact_id",
                ("caller_name", "phone", "email")),
)
WEB_PERSONAL_KEYS = ("email", "first_name", "last_name", "phone", "birth_date")
# intermediate.int_customer_records_unioned is a table (identity reads it) holding the same
# personal attributes as dim_customers, keyed by (source, source_record_id).
RECORDS_TABLE = ("intermediate", "int_customer_records_unioned")
RECORDS_PERSONAL = ("first_name", "last_name", "full_name", "birth_date", "email", "phone",
                    "address_line", "postcode", "national_id")
# identity.standardised_records: each record's standardised values (the golden record's
# candidates), written by every identity run from the records table above.
STANDARDISED_TABLE = ("identity", "standardised_records")
STANDARDISED_PERSONAL = ("first_name", "last_name", "birth_date", "email", "phone", "postcode",
                         "national_id")
# The golden record's candidates, one row per customer and attribute, the value as text.
GOLDEN_VALUES_TABLE = ("intermediate", "int_customer_golden_values")
# Quarantined lines that can name a customer record, per source.
RECORD_ENTITY = {"erp": "customers", "callcenter": "calls", "web": "events"}
TOKEN = re.compile(r"[\w.+@-]+")
MIN_TEXT_VALUE = 4


Marts = dict[str, access.MartColumns]


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


def subject_hash(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def normalise_email(email: str) -> str:
    return email.strip().lower()


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
    marts = access.mart_columns(manifest_path)
    with psycopg.connect(conninfo) as conn, conn.transaction():
        conn.execute(DDL)
        conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (ERASURE_LOCK,))
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
    # Identity's incremental state holds each record's standardised values and their hashes:
    # drop it all, and the next identity run re-scores everything from what is left.
    shutil.rmtree(identity_store.scoring_dir(), ignore_errors=True)
    log.info("%s", report.describe())
    return report


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
            sql.SQL("update {} set {} where {}").format(target, _nulls(table.personal), where),
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
    _erase_attempt_reasons(conn, erased)
    return len(erased)


def _erase_attempt_reasons(conn: psycopg.Connection, quarantine_ids: list[int]) -> None:
    """Re-processing attempts keep the reason a row had, which may quote its values."""
    if quarantine_ids and _exists(conn, "raw", "quarantine_attempts"):
        conn.execute("update raw.quarantine_attempts set reason_before = %s"
                     " where quarantine_id = any(%s)", (ERASED_REASON, quarantine_ids))


def _erase_records_table(conn: psycopg.Connection, subject: _Subject,
                         _: Marts) -> dict[str, int]:
    """The person's rows of the tables keyed by (source, source_record_id)."""
    sources, ids = (list(x) for x in zip(*subject.records, strict=True)) \
        if subject.records else ([], [])
    counts = {}
    for table, personal in ((RECORDS_TABLE, RECORDS_PERSONAL),
                            (STANDARDISED_TABLE, STANDARDISED_PERSONAL)):
        if not _exists(conn, *table):
            continue
        counts[".".join(table)] = conn.execute(
            sql.SQL("update {} t set {} from unnest(%s::text[], %s::text[]) as r (source, id)"
                    " where t.source = r.source and t.source_record_id = r.id").format(
                sql.Identifier(*table), _nulls(personal)),
            (sources, ids)).rowcount
    return counts


def _erase_golden_values(conn: psycopg.Connection, subject: _Subject,
                         _: Marts) -> dict[str, int]:
    """Every attribute value of the person's keys, and their emails on other customers' rows."""
    if not _exists(conn, *GOLDEN_VALUES_TABLE):
        return {}
    emails = sorted(subject.emails | subject.requested_emails)
    rows = conn.execute(
        sql.SQL("update {} set attribute_value = null where customer_key = any(%s)"
                " or (attribute_name = 'email' and lower(trim(attribute_value)) = any(%s))"
                ).format(sql.Identifier(*GOLDEN_VALUES_TABLE)),
        (sorted(subject.customer_keys), emails)).rowcount
    return {".".join(GOLDEN_VALUES_TABLE): rows}


def _erase_marts(conn: psycopg.Connection, subject: _Subject, marts: Marts) -> dict[str, int]:
    """Null the manifest's personal columns in the person's rows of every built and published
    mart. A table the manifest does not know blocks the erasure: it may hold personal data."""
    counts = {}
    for schema, table in _mart_tables(conn, marts):
        personal = sorted(marts[table].personal)
        if not _has_column(conn, schema, table, "customer_key"):
            raise ErasureBlocked(f"{schema}.{table} has personal columns but no customer_key "
                                 "to find the person's rows by")
        counts[f"{schema}.{table}"] = conn.execute(
            sql.SQL("update {} set {} where customer_key = any(%s)").format(
                sql.Identifier(schema, table), _nulls(personal)),
            (sorted(subject.customer_keys),)).rowcount
    return counts


def _erase_emails_elsewhere(conn: psycopg.Connection, subject: _Subject,
                            marts: Marts) -> dict[str, int]:
    """The person's emails can also sit on other people's records (a shared family address):
    there only the email goes."""
    emails = sorted(subject.emails | subject.requested_emails)
    columns = [("raw", t.table, "email") for t in SOURCE_TABLES]
    for table in (RECORDS_TABLE, STANDARDISED_TABLE):
        if _exists(conn, *table):
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
            f"not in the dbt manifest ({access.manifest_file()}), so their personal columns are "
            f"unknown: {', '.join(unknown)}; run `onetoone dbt parse` or drop them")
    return [(schema, table) for schema, table in tables if marts[table].personal]


def _erase_audit_samples(conn: psycopg.Connection, subject: _Subject,
                         _: Marts) -> dict[str, int]:
    """Great Expectations keeps samples of failing values; drop those that show the person."""
    if not _exists(conn, "audit", "expectation_results"):
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
    erasure_id = conn.execute(
        """
        insert into audit.erasures (requested_by, reason, requested_with, customer_key_hashes,
                                    source_records, counts)
        values (%s, %s, %s, %s, %s, %s) returning erasure_id
        """,
        (requested_by, reason, requested_with,
         sorted(subject_hash(k) for k in subject.customer_keys), len(subject.records),
         Jsonb(counts))).fetchone()[0]
    hashes = {subject_hash(f"{source}:{rid}") for source, rid in subject.records}
    hashes |= {subject_hash(e) for e in subject.emails | subject.requested_emails}
    with conn.cursor() as cur:
        cur.executemany(
            "insert into audit.erased_subjects (subject_hash, erasure_id) values (%s, %s)"
            " on conflict (subject_hash) do nothing",
            [(h, erasure_id) for h in sorted(hashes)])
    return erasure_id


def is_erased(conn: psycopg.Connection, source: str, source_record_id: str) -> bool:
    """Whether a source record belongs to a person who was forgotten."""
    if not _exists(conn, "audit", "erased_subjects"):
        return False
    return conn.execute(
        "select exists (select 1 from audit.erased_subjects where subject_hash = %s)",
        (subject_hash(f"{source}:{source_record_id}"),)).fetchone()[0]


def scrub_erased(conn: psycopg.Connection, batch_id: int) -> int:
    """Erase again, in a batch just loaded, what belongs to forgotten people; answer the rows.

    Rerunning an older interval reloads the source systems' own copies. Call this in the batch's
    transaction after its rows and quarantine lines are written. It waits for a running erasure
    (shared lock), so a batch never commits data of a person forgotten meanwhile."""
    # Locked before looking: the first erasure ever creates the table it is about to fill.
    conn.execute("select pg_advisory_xact_lock_shared(hashtext(%s))", (ERASURE_LOCK,))
    if not _exists(conn, "audit", "erased_subjects"):
        return 0
    source, entity = conn.execute(
        "select source, entity from raw.load_batches where batch_id = %s", (batch_id,)).fetchone()
    # As in forget: an erased record loses every personal field, another record only an
    # erased email on it.
    erased = sql.SQL("in (select subject_hash from audit.erased_subjects)")
    statements = [
        (sql.SQL("update {t} set {nulls} where _batch_id = %(batch)s and {hash} {erased}").format(
            t=sql.Identifier("raw", table.table), nulls=_nulls(table.personal), erased=erased,
            hash=_sql_hash(sql.SQL("{} || {}").format(sql.Literal(f"{table.source}:"),
                                                       sql.Identifier(table.record_id)))),
         sql.SQL("update {t} set email = null where _batch_id = %(batch)s and {hash} {erased}")
         .format(t=sql.Identifier("raw", table.table), erased=erased,
                 hash=_sql_hash(sql.SQL("lower(trim(email))"))))
        for table in SOURCE_TABLES if (table.source, table.entity) == (source, entity)]
    if (source, entity) == ("web", "events"):
        statements.append((
            sql.SQL("update raw.web_events set payload = payload - %(keys)s::text[]"
                    " where _batch_id = %(batch)s and payload ?| %(keys)s::text[]"
                    " and {hash} {erased}").format(
                hash=_sql_hash(sql.SQL("'web:' || account_id")), erased=erased),
            sql.SQL("update raw.web_events set payload = payload - 'email'"
                    " where _batch_id = %(batch)s and {hash} {erased}").format(
                hash=_sql_hash(sql.SQL("lower(trim(payload->>'email'))")), erased=erased)))
    params = {"batch": batch_id, "keys": list(WEB_PERSONAL_KEYS)}
    rows = sum(conn.execute(statement, params).rowcount
               for pair in statements for statement in pair)
    return rows + _scrub_quarantine(conn, batch_id, source)


def _scrub_quarantine(conn: psycopg.Connection, batch_id: int, source: str) -> int:
    """Quarantined lines are text: look for erased record ids and emails among their tokens."""
    lines = conn.execute("select quarantine_id, concat_ws(' ', raw_record, corrected_record)"
                         " from raw.quarantine where batch_id = %s and (raw_record is not null"
                         " or corrected_record is not null)", (batch_id,)).fetchall()
    by_hash: dict[str, set[int]] = {}
    for quarantine_id, text in lines:
        for token in TOKEN.findall(text):
            value = normalise_email(token) if "@" in token else f"{source}:{token}"
            by_hash.setdefault(subject_hash(value), set()).add(quarantine_id)
    if not by_hash:
        return 0
    found = conn.execute("select subject_hash from audit.erased_subjects"
                         " where subject_hash = any(%s)", (list(by_hash),)).fetchall()
    ids = sorted({qid for (h,) in found for qid in by_hash[h]})
    if not ids:
        return 0
    _erase_attempt_reasons(conn, ids)
    return conn.execute(
        "update raw.quarantine set raw_record = null, corrected_record = null, reason = %s"
        " where quarantine_id = any(%s)", (ERASED_REASON, ids)).rowcount


def _sql_hash(expression: sql.Composable) -> sql.Composed:
    return sql.SQL("encode(sha256(convert_to({}, 'UTF8')), 'hex')").format(expression)


def _nulls(columns: tuple[str, ...] | list[str]) -> sql.Composed:
    return sql.SQL(", ").join(sql.SQL("{} = null").format(sql.Identifier(c)) for c in columns)


def _exists(conn: psycopg.Connection, schema: str, table: str) -> bool:
    return conn.execute("select to_regclass(%s) is not null",
                        (f"{schema}.{table}",)).fetchone()[0]


def _has_column(conn: psycopg.Connection, schema: str, table: str, column: str) -> bool:
    return conn.execute(
        "select 1 from information_schema.columns"
        " where table_schema = %s and table_name = %s and column_name = %s",
        (schema, table, column)).fetchone() is not None


def _cmd_forget(args: argparse.Namespace) -> int:
    if config.uses_embedded_warehouse():
        from onetoone import warehouse

        warehouse.start()
    report = forget(config.warehouse_url(), customer_key=args.customer_key, email=args.email,
                    requested_by=args.requested_by, reason=args.reason)
    print(report.describe())
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    """Register `onetoone forget (--customer-key KEY | --email EMAIL) --requested-by --reason`."""
    cmd = subparsers.add_parser(
        "forget", help="erase a person's personal data from the warehouse (right to be forgotten)")
    who = cmd.add_mutually_exclusive_group(required=True)
    who.add_argument("--customer-key", help="the person's customer key")
    who.add_argument("--email", help="an email of the person (their records' keys are followed)")
    cmd.add_argument("--requested-by", required=True,
                     help="who asked (recorded in audit.erasures; no personal data)")
    cmd.add_argument("--reason", required=True,
                     help="why, e.g. a ticket id (recorded in audit.erasures; no personal data)")
    cmd.set_defaults(func=_cmd_forget)
