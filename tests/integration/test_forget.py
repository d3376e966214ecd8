"""Right to be forgotten on the real embedded PostgreSQL: after `forget`, no text column of the
warehouse holds the person's email, phone or names; facts keep their customer key; the erasure is
recorded without personal data; and a re-ingested copy is erased again.

Works in its own database, with small tables and a small dbt manifest of its own."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from onetoone.foundation import erasures
from onetoone.foundation.config import embedded_url
from onetoone.operations import forget as erasure
from onetoone.operations import pipeline
from onetoone.operations.migrate import migrate
from onetoone.runtime import dbt
from onetoone.stages.identity import store as identity_store
from onetoone.stages.identity.dashboards import steward_dashboards_dir
from onetoone.stages.identity.standardise import display_values, standardise
from onetoone.stages.ingest.ledger import open_batch
from onetoone.stages.ingest.parsers import CALL_COLUMNS
from onetoone.stages.ingest.scrub import scrub_erased
from onetoone.stages.serving import access, publish

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_forget_test"
AT = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
SEARCHED_SCHEMAS = ["raw", "identity", "intermediate", "marts_build", "marts", "audit"]

# Zéfira (key KA): an ERP customer, a call center contact and a web account.
ZEFIRA = {"email": "zefira.q@example.com", "phone_digits": "912345678",
          "names": ["zéfira", "zefira", "quintanilha"],
          # every other personal field of hers: the tax id (digits), address, birth date
          "other": ["12345678900", "rua das flores", "1980-05-01"]}
# Bartolomeu (key KB): an ERP customer and a web account.
BARTOLOMEU = {"email": "bart.v@example.com", "phone_digits": "933332222",
              "names": ["bartolomeu", "vasconcelos"]}

ERP_CUSTOMERS = [
    ("C1", "Zéfira", "Quintanilha", "123.456.789-00", ZEFIRA["email"], "+55 11 91234-5678",
     "Rua das Flores 10", "São Paulo", "SP", "01000-000", "BR", "1980-05-01"),
    ("C2", "Bartolomeu", "Vasconcelos", None, BARTOLOMEU["email"], "+351 93 333 2222",
     "Av. da Liberdade 1", "Lisboa", "LX", "1250-096", "PT", "1975-01-01"),
    ("C3", "Carla", "Mendes", None, "carla@example.com", "+55 21 98888-7777",
     "Rua Azul 5", "Rio de Janeiro", "RJ", "20000-000", "BR", "1990-02-02"),
]
CALLS = [
    ("CL1", "CC1", "Quintanilha, Zefira", "(11) 91234-5678", "Zefira.Q@Example.com"),
    ("CL2", "CC1", "Zefira Quintanilha", "11 91234 5678", None),
    # Carla once gave Bartolomeu's email (a shared family address): only the email must go.
    ("CL3", "CC9", "Carla Mendes", "(21) 98888-7777", BARTOLOMEU["email"]),
]
WEB_EVENTS = [
    ("E1", "registration", "W1", {"email": ZEFIRA["email"], "first_name": "Zéfira",
                                  "last_name": "Quintanilha", "phone": "11912345678",
                                  "birth_date": "1980-05-01", "city": "São Paulo",
                                  "country": "BR"}),
    ("E2", "page_view", "W1", {"page_category": "books"}),
    ("E3", "newsletter_signup", None, {"email": "ZEFIRA.Q@example.com "}),
    ("E4", "registration", "W2", {"email": BARTOLOMEU["email"], "first_name": "Bartolomeu",
                                  "last_name": "Vasconcelos", "phone": "+351933332222"}),
]
CUSTOMER_KEYS = [("erp", "C1", "KA"), ("callcenter", "CC1", "KA"), ("web", "W1", "KA"),
                 ("erp", "C2", "KB"), ("web", "W2", "KB"),
                 ("erp", "C3", "KC"), ("callcenter", "CC9", "KC")]
QUARANTINED = [
    ("callcenter", "calls", "CL7,not a date,CC1,Zefira Q,(11) 91234-5678,,billing"),
    ("web", "events", '{"event_id": "E9", "account_id": "W1", "email": "zefira.q@exa'),
    ("erp", "customers", '{"customer_id": "C2", "first_name": "Bartolomeu", "updated_at": null}'),
    ("callcenter", "calls", "CL8,not a date,CC10,Someone Else,555,,billing"),
]
MARTS = {
    "dim_customers": {"customer_key": False, "first_name": True, "last_name": True,
                      "full_name": True, "email": True, "phone": True, "postcode": True,
                      "national_id": True, "birth_date": True, "address_line": True,
                      "city": False, "country": False},
    "fct_orders": {"order_id": False, "customer_key": False, "customer_id": False,
                   "net_revenue": False},
}


@pytest.fixture(scope="module")
def manifest(tmp_path_factory) -> Path:
    nodes = {
        f"model.onetoone.{name}": {
            "resource_type": "model", "name": name, "alias": name, "schema": "marts_build",
            "tags": [],
            "columns": {c: {"name": c, "config": {"meta": {"pii": True} if pii else {}}}
                        for c, pii in columns.items()},
        }
        for name, columns in MARTS.items()
    }
    path = tmp_path_factory.mktemp("dbt") / "manifest.json"
    path.write_text(json.dumps({"nodes": nodes}))
    return path


@pytest.fixture(scope="module")
def database(warehouse) -> Iterator[str]:
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')
        admin.execute(f'create database "{TEST_DB}"')
    yield embedded_url(TEST_DB)
    with psycopg.connect(embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{TEST_DB}" with (force)')


@pytest.fixture
def db_url(database: str, manifest: Path) -> str:
    """Fresh raw, identity, intermediate, marts and audit tables holding three people."""
    with psycopg.connect(database) as conn:
        for schema in SEARCHED_SCHEMAS:
            conn.execute(sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema)))
        migrate(conn)
        batches = {}
        for source, entity in (("erp", "customers"), ("erp", "orders"), ("callcenter", "calls"),
                               ("web", "events")):
            batches[source, entity] = open_batch(conn, source=source, entity=entity,
                                                 source_ref=f"{source}.{entity} test")
        for row in ERP_CUSTOMERS:
            conn.execute(
                "insert into raw.erp_customers (customer_id, first_name, last_name, tax_id,"
                " email, phone, address_line, city, region, postcode, country, birth_date,"
                " created_at, updated_at, _batch_id, _extracted_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (*row, AT, AT, batches["erp", "customers"], AT))
        for n, customer in enumerate(("C1", "C2", "C3"), start=1):
            conn.execute(
                "insert into raw.erp_orders values (%s, %s, %s, 'web', 'completed', %s, %s, %s)",
                (f"O{n}", customer, AT, AT, batches["erp", "orders"], AT))
        for n, (call_id, contact, name, phone, email) in enumerate(CALLS, start=1):
            conn.execute(
                "insert into raw.callcenter_calls values"
                " (%s, %s, %s, %s, %s, %s, 'billing', 60, 4, false, 'resolved', 'AG001',"
                "  %s, 'callcenter/calls_2025-03-01.csv', %s)",
                (call_id, AT, contact, name, phone, email, batches["callcenter", "calls"], n))
        for n, (event_id, event_type, account, extra) in enumerate(WEB_EVENTS, start=1):
            payload = {"event_id": event_id, "event_type": event_type, "account_id": account,
                       "session_id": "S1", **extra}
            conn.execute(
                "insert into raw.web_events values (%s, %s, %s, %s, 'S1', %s, %s,"
                " 'web/events_2025-03-01.ndjson', %s)",
                (event_id, event_type, AT, account, Jsonb(payload), batches["web", "events"], n))
        for source, entity, line in QUARANTINED:
            conn.execute(
                "insert into raw.quarantine (batch_id, source, entity, reason, raw_record)"
                " values (%s, %s, %s, 'broken', %s)",
                (batches[source, entity], source, entity, line))
        # An engineer's correction that names her, and the reason its attempt kept.
        corrected = conn.execute(
            "insert into raw.quarantine (batch_id, source, entity, reason, raw_record,"
            " corrected_record) values (%s, 'callcenter', 'calls', 'broken', 'CL9,???', %s)"
            " returning quarantine_id",
            (batches["callcenter", "calls"], f"CL9,2025-03-01,CC9,,,{ZEFIRA['email']},billing"),
        ).fetchone()[0]
        reprocessing = conn.execute(
            "insert into raw.quarantine_reprocessings (requested_by, reason, method, status)"
            " values ('eng', 'fix', 'corrections', 'applied') returning reprocessing_id"
        ).fetchone()[0]
        conn.execute("insert into raw.quarantine_attempts values (%s, %s, 'still_quarantined',"
                     " true, %s)", (reprocessing, corrected, f"bad date near {ZEFIRA['email']}"))
        conn.execute("insert into identity.customer_keys"
                     " select s, r, k, 3, 'm1', now() from unnest(%s::text[], %s::text[],"
                     " %s::text[]) as t (s, r, k)",
                     [list(c) for c in zip(*CUSTOMER_KEYS, strict=True)])
        _build_intermediate_and_marts(conn)
        conn.execute(
            "insert into audit.expectation_results (run_id, layer, suite, data_asset,"
            " expectation_type, column_name, severity, success, partial_unexpected_list, kwargs)"
            " values ('r1', 'raw', 'raw.erp_customers', 'raw.erp_customers',"
            " 'expect_column_values_to_match_regex', 'email', 'warning', false, %s, '{}')",
            (Jsonb([ZEFIRA["email"], "not-an-email"]),))
    # Published as this test's manifest describes them, not as the project's does.
    with pytest.MonkeyPatch.context() as patch, psycopg.connect(database) as conn:
        patch.setattr(dbt, "manifest_file", lambda path=None: path or manifest)
        publish.publish_marts(conn)
    return database


def _build_intermediate_and_marts(conn: psycopg.Connection) -> None:
    """What dbt would build from the rows above, reduced to the columns the tests need."""
    conn.execute("create schema if not exists intermediate")
    conn.execute("""
        create table intermediate.int_customer_records_unioned as
        select 'erp'::text as source, customer_id as source_record_id, first_name, last_name,
               first_name || ' ' || last_name as full_name, birth_date, email, phone,
               address_line, city, postcode, region, country, tax_id as national_id, updated_at
          from raw.erp_customers
        union all
        select 'callcenter', contact_id, caller_name, null, caller_name, null, email, phone,
               null, null, null, null, null, null, called_at::timestamptz
          from raw.callcenter_calls
        union all
        select 'web', account_id, payload->>'first_name', payload->>'last_name', null,
               (payload->>'birth_date')::date, payload->>'email', payload->>'phone', null,
               payload->>'city', null, null, payload->>'country', null, occurred_at
          from raw.web_events where account_id is not null
    """)
    # identity's standardised values of those records, as the identity step writes them (one
    # row per record: the simplified call-center part above has a row per call)
    records = identity_store.read_records(conn).drop_duplicates(["source", "source_record_id"])
    identity_store.replace_standardised_records(conn, display_values(records, standardise(records)))
    conn.execute("""
        create table intermediate.int_customer_golden_values as
        select k.customer_key, a.attribute_name, a.attribute_value, u.source, u.source_record_id
          from intermediate.int_customer_records_unioned u
          join identity.customer_keys k
            on k.source = u.source and k.source_record_id = u.source_record_id
          cross join lateral (values ('first_name', u.first_name), ('last_name', u.last_name),
                                     ('email', u.email), ('phone', u.phone))
               as a (attribute_name, attribute_value)
         where a.attribute_value is not null
    """)
    conn.execute("create schema if not exists marts_build")
    conn.execute("""
        create table marts_build.dim_customers as
        select k.customer_key, c.first_name, c.last_name, c.first_name || ' ' || c.last_name
                   as full_name, c.email, c.phone, c.postcode, c.tax_id as national_id,
               c.birth_date, c.address_line, c.city, c.country
          from raw.erp_customers c
          join identity.customer_keys k on k.source = 'erp' and k.source_record_id = c.customer_id
    """)
    conn.execute("""
        create table marts_build.fct_orders as
        select o.order_id, k.customer_key, o.customer_id, 100::numeric as net_revenue
          from raw.erp_orders o
          join identity.customer_keys k on k.source = 'erp' and k.source_record_id = o.customer_id
    """)


def leftovers(conn: psycopg.Connection, needles: list[str]) -> list[tuple[str, str, str]]:
    """Every (table, column, value) of a text or JSON column in the warehouse's schemas that
    contains one of the needles (case-insensitive; phone needles compared digits only)."""
    columns = conn.execute(
        "select table_schema, table_name, column_name from information_schema.columns"
        " where table_schema = any(%s) and data_type in ('text', 'character varying', 'jsonb')",
        (SEARCHED_SCHEMAS,)).fetchall()
    found = []
    for schema, table, column in columns:
        value = sql.SQL("{}::text").format(sql.Identifier(column))
        for (text,) in conn.execute(
                sql.SQL("select {v} from {t} where exists (select 1 from unnest(%s::text[]) n"
                        " where strpos(lower({v}), n) > 0"
                        " or strpos(regexp_replace({v}, '\\D', '', 'g'), n) > 0)").format(
                    v=value, t=sql.Identifier(schema, table)), (needles,)):
            found.append((f"{schema}.{table}", column, text))
    return found


def needles(person: dict) -> list[str]:
    return [person["email"], person["phone_digits"], *person["names"], *person.get("other", [])]


def test_forget_by_email_leaves_nothing_of_the_person_and_keeps_the_facts(db_url, manifest):
    with psycopg.connect(db_url) as conn:
        assert leftovers(conn, needles(ZEFIRA))  # the search does find them before
        quarantined = conn.execute("select count(*) from raw.quarantine").fetchone()[0]
    report = erasure.forget(db_url, email=" Zefira.Q@EXAMPLE.com ", requested_by="dpo@company",
                            reason="ticket 4711", manifest_path=manifest)
    assert report.customer_keys == 1 and report.source_records == 3
    assert report.counts["marts.dim_customers"] == 1
    assert report.counts["marts_build.dim_customers"] == 1
    assert report.counts["raw.quarantine"] == 3
    assert report.counts["audit.expectation_results"] == 1
    with psycopg.connect(db_url) as conn:
        assert leftovers(conn, needles(ZEFIRA)) == []
        assert len(leftovers(conn, needles(BARTOLOMEU))) > 5  # the others are intact
        # facts and the key mapping remain, so revenue and counts do not change
        assert conn.execute("select customer_key, net_revenue from marts.fct_orders"
                            " where order_id = 'O1'").fetchone() == ("KA", 100)
        assert conn.execute("select count(*) from raw.erp_orders").fetchone()[0] == 3
        assert conn.execute("select count(*) from identity.customer_keys"
                            " where customer_key = 'KA'").fetchone()[0] == 3
        assert conn.execute("select customer_key, email, country from marts.dim_customers"
                            " where customer_key = 'KA'").fetchone() == ("KA", None, "BR")
        assert conn.execute("select payload->>'page_category' from raw.web_events"
                            " where event_id = 'E2'").fetchone() == ("books",)
        # quarantined lines are emptied, not removed: the ledger still reconciles
        assert conn.execute("select count(*) from raw.quarantine").fetchone()[0] == quarantined
        assert conn.execute("select raw_record from raw.quarantine"
                            " where raw_record like 'CL8,%'").fetchone()  # CC10 is not CC1
        recorded = conn.execute(
            "select requested_by, reason, requested_with, customer_key_hashes, source_records"
            " from audit.erasures").fetchall()
        assert recorded == [("dpo@company", "ticket 4711", "email",
                             [hashlib.sha256(b"KA").hexdigest()], 3)]
        records = {("erp", "C1"), ("callcenter", "CC1"), ("web", "W1"), ("erp", "C3")}
        registered = erasures.erased_among(conn, [erasures.record_hash(*r) for r in records])
        assert registered == {erasures.record_hash(*r) for r in records - {("erp", "C3")}}


def test_forget_by_customer_key(db_url, manifest):
    identity_store.scoring_dir().mkdir(parents=True, exist_ok=True)
    state_files = [identity_store.scoring_dir() / name
                   for name in ("fingerprints.parquet", "standardised.parquet")]
    steward_dashboards = steward_dashboards_dir()
    steward_dashboards.mkdir(parents=True, exist_ok=True)
    state_files.append(steward_dashboards / "cluster_studio.html")
    for state_file in state_files:
        state_file.write_bytes(b"everyone's standardised records and their hashes")
    report = erasure.forget(db_url, customer_key="KB", requested_by="dpo@company",
                            reason="ticket 4712", manifest_path=manifest)
    assert report.source_records == 2
    assert not any(state_file.exists() for state_file in state_files)
    with psycopg.connect(db_url) as conn:
        assert leftovers(conn, needles(BARTOLOMEU)) == []
        assert leftovers(conn, needles(ZEFIRA))  # not her
        # nor Carla, who once gave his email: only that email went from her call
        assert conn.execute("select caller_name, phone, email from raw.callcenter_calls"
                            " where call_id = 'CL3'").fetchone() \
            == ("Carla Mendes", "(21) 98888-7777", None)
        assert conn.execute("select customer_key from marts.fct_orders"
                            " where order_id = 'O2'").fetchone() == ("KB",)


def test_reingesting_an_erased_record_erases_it_again(db_url, manifest):
    erasure.forget(db_url, customer_key="KA", requested_by="dpo", reason="t",
                   manifest_path=manifest)
    with psycopg.connect(db_url) as conn:
        # an older ERP window is re-extracted: the source still has the person
        batch = open_batch(conn, source="erp", entity="customers", source_ref="erp rerun")
        for row in (ERP_CUSTOMERS[0], ERP_CUSTOMERS[2]):
            conn.execute(
                "insert into raw.erp_customers (customer_id, first_name, last_name, tax_id,"
                " email, phone, address_line, city, region, postcode, country, birth_date,"
                " created_at, updated_at, _batch_id, _extracted_at)"
                " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (*row, AT, AT, batch, AT))
        conn.execute("insert into raw.quarantine (batch_id, source, entity, reason, raw_record)"
                     " values (%s, 'erp', 'customers', 'broken', %s)",
                     (batch, json.dumps({"customer_id": "C1", "last_name": "Quintanilha"})))
        assert scrub_erased(conn, batch) == {"raw.erp_customers": 1, "raw.quarantine": 1,
                                          "raw.quarantine_attempts": 0}
        # a call file is reloaded: Carla once gave Zéfira's email; only that goes
        calls = open_batch(conn, source="callcenter", entity="calls", source_ref="calls rerun")
        conn.execute(
            "insert into raw.callcenter_calls values ('CL20', %s, 'CC9', 'Carla Mendes',"
            " '(21) 98888-7777', %s, 'billing', 60, 4, false, 'resolved', 'AG001', %s,"
            " 'callcenter/calls_2025-03-05.csv', 1)", (AT, ZEFIRA["email"].upper(), calls))
        assert scrub_erased(conn, calls) == {"raw.callcenter_calls": 1}
        # a web file is reloaded: her account's registration comes back with her details
        web = open_batch(conn, source="web", entity="events", source_ref="web rerun")
        conn.execute(
            "insert into raw.web_events (event_id, event_type, occurred_at, account_id,"
            " session_id, payload, _batch_id, _source_file, _line_number)"
            " values ('E1', 'registration', %s, 'W1', 's1', %s, %s, 'web/e.ndjson', 1)",
            (AT, Jsonb(WEB_EVENTS[0][3]), web))
        assert scrub_erased(conn, web) == {"raw.web_events": 1}
        assert conn.execute("select payload from raw.web_events where _batch_id = %s",
                            (web,)).fetchone() == ({"city": "São Paulo", "country": "BR"},)
        assert leftovers(conn, needles(ZEFIRA)) == []
        assert conn.execute("select first_name from raw.erp_customers where customer_id = 'C3'"
                            " and _batch_id = %s", (batch,)).fetchone() == ("Carla",)
        assert conn.execute("select caller_name from raw.callcenter_calls"
                            " where call_id = 'CL20'").fetchone() == ("Carla Mendes",)


def test_nothing_is_erased_or_recorded_when_it_cannot_be_complete(db_url, manifest):
    with pytest.raises(LookupError):
        erasure.forget(db_url, email="nobody@example.com", requested_by="dpo", reason="t",
                       manifest_path=manifest)
    with pytest.raises(erasure.AmbiguousSubject, match="KB, KC"):
        erasure.forget(db_url, email=BARTOLOMEU["email"], requested_by="dpo", reason="t",
                       manifest_path=manifest)
    with psycopg.connect(db_url) as conn:
        conn.execute("create table marts_build.stray_copy as table marts_build.dim_customers")
    with pytest.raises(erasure.ErasureBlocked, match="marts_build.stray_copy"):
        erasure.forget(db_url, customer_key="KA", requested_by="dpo", reason="t",
                       manifest_path=manifest)
    with psycopg.connect(db_url) as conn:
        assert leftovers(conn, needles(ZEFIRA))
        # the whole transaction rolled back: the registry (created by migrate) holds nothing
        assert conn.execute("select count(*) from audit.erasures").fetchone()[0] == 0


def _statistics_holding(conn: psycopg.Connection, needle: str) -> list[tuple[str, str, str]]:
    """(schema, table, column) of every pg_stats row this login can read whose most common
    values or histogram bounds contain the needle (case-insensitive)."""
    return conn.execute(
        "select schemaname::text, tablename::text, attname::text from pg_stats"
        " where schemaname = any(%s) and (strpos(lower(most_common_vals::text), %s) > 0"
        " or strpos(lower(histogram_bounds::text), %s) > 0)",
        (SEARCHED_SCHEMAS, needle, needle)).fetchall()


def test_column_statistics_keep_no_forgotten_value(db_url, manifest):
    """pg_stats samples live rows when a table is analysed and keeps them until the next
    ANALYZE: an auditor reads those of the audit tables, the owner those of every table."""
    password = secrets.token_urlsafe(16)
    with psycopg.connect(db_url) as conn:
        access.create_login(conn, "test_forget_auditor", "auditor", password)
        # GX failure samples of many runs, hers among them often enough to be a common value
        for run in range(30):
            conn.execute(
                "insert into audit.expectation_results (run_id, layer, suite, data_asset,"
                " expectation_type, column_name, severity, success, partial_unexpected_list,"
                " kwargs) values (%s, 'raw', 'raw.erp_customers', 'raw.erp_customers',"
                " 'expect_column_values_to_match_regex', 'email', 'warning', false, %s, '{}')",
                (f"r{run + 2}", Jsonb([ZEFIRA["email"]] if run % 2 else [f"x{run}@bad"])))
    with psycopg.connect(db_url, autocommit=True) as conn:
        for schema in SEARCHED_SCHEMAS:
            for (table,) in conn.execute("select tablename from pg_tables where schemaname = %s",
                                         (schema,)).fetchall():
                conn.execute(sql.SQL("analyze {}").format(sql.Identifier(schema, table)))
    auditor_url = {"user": "test_forget_auditor", "password": password}
    with psycopg.connect(db_url, **auditor_url) as auditor:
        assert _statistics_holding(auditor, ZEFIRA["email"]) \
            == [("audit", "expectation_results", "partial_unexpected_list")]
    with psycopg.connect(db_url) as conn:
        assert ("raw", "erp_customers", "email") in _statistics_holding(conn, ZEFIRA["email"])

    erasure.forget(db_url, email=ZEFIRA["email"], requested_by="dpo", reason="t",
                   manifest_path=manifest)

    with psycopg.connect(db_url, **auditor_url) as auditor:
        assert _statistics_holding(auditor, ZEFIRA["email"]) == []
    with psycopg.connect(db_url) as conn:
        for needle in needles(ZEFIRA):
            assert _statistics_holding(conn, needle) == [], needle
        assert _statistics_holding(conn, BARTOLOMEU["email"])  # the others' stay


def _row_versions_holding(conn: psycopg.Connection, value: str) -> list[str]:
    """The tables of the searched schemas with a row version, live or dead, whose bytes hold
    ``value`` (pageinspect reads each heap page's tuples, as on disk)."""
    conn.execute("create extension if not exists pageinspect")
    tables = conn.execute("select format('%%I.%%I', schemaname, relname) from pg_stat_user_tables"
                          " where schemaname = any(%s)", (SEARCHED_SCHEMAS,)).fetchall()
    return [table for (table,) in tables if conn.execute(
        "select exists (select 1 from generate_series(0, pg_relation_size(%(t)s::regclass)"
        " / current_setting('block_size')::int - 1) as page,"
        " heap_page_items(get_raw_page(%(t)s::text, page::int)) as item"
        " where position(convert_to(%(v)s, 'UTF8') in item.t_data) > 0)",
        {"t": table, "v": value}).fetchone()[0]]


def test_no_row_version_of_a_changed_table_keeps_a_forgotten_value(db_url, manifest, tmp_path):
    """An UPDATE leaves the old row version in the table's pages until VACUUM removes it: after
    forget, and after the scrub of a re-delivered file that brings her back."""
    spellings = [ZEFIRA["email"], "Zefira.Q@Example.com", "ZEFIRA.Q@example.com "]
    with psycopg.connect(db_url) as conn:
        assert "raw.erp_customers" in _row_versions_holding(conn, ZEFIRA["email"])
    erasure.forget(db_url, email=ZEFIRA["email"], requested_by="dpo", reason="t",
                   manifest_path=manifest)
    with psycopg.connect(db_url) as conn:
        for spelling in spellings:
            assert _row_versions_holding(conn, spelling) == [], spelling
        assert "raw.erp_customers" in _row_versions_holding(conn, BARTOLOMEU["email"])

    # The call center delivers an old day again, through the real loader: her call (loaded,
    # then scrubbed) and a broken line with her email (quarantined, then scrubbed).
    (tmp_path / "callcenter").mkdir()
    (tmp_path / "callcenter" / "calls_2025-02-27.csv").write_text("\n".join([
        ",".join(CALL_COLUMNS),
        "CL40,2025-02-27 09:00:00,CC1,Zefira Quintanilha,(11) 91234-5678,Zefira.Q@Example.com,"
        "billing,60,4,false,resolved,AG001",
        "CL41,not a date,CC1,Zefira Quintanilha,,ZEFIRA.Q@example.com,billing,60,4,false,x,AG1",
        "CL42,2025-02-27 09:05:00,CC9,Carla Mendes,(21) 98888-7777,,billing,60,4,false,"
        "resolved,AG001"]) + "\n")
    summary = pipeline.ingest("callcenter", warehouse=db_url, landing=tmp_path,
                              until=datetime(2025, 3, 1, tzinfo=UTC))
    assert summary.totals()["rows_loaded"] == 2 and summary.totals()["rows_quarantined"] == 1
    with psycopg.connect(db_url) as conn:
        assert conn.execute("select caller_name, email from raw.callcenter_calls"
                            " where call_id = 'CL40'").fetchone() == (None, None)
        for spelling in [*spellings, "Zefira Quintanilha"]:
            assert _row_versions_holding(conn, spelling) == [], spelling
        assert "raw.callcenter_calls" in _row_versions_holding(conn, "Carla Mendes")


def test_gx_results_and_data_docs_hold_no_personal_value_to_forget(db_url, manifest):
    """GX is told to keep no failing values of tables with personal columns (the samples the
    audit keeps are masked at write time, stages/quality/masking.py): after a real GX run whose
    rules fail on her rows, neither its result files nor Data Docs hold anything of her, so
    forget has no file to rewrite; the audit's masked samples go with forget too."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    from onetoone.foundation.config import paths
    from onetoone.stages.quality.runner import run_suites
    from onetoone.stages.quality.spec import TableSuite, warning

    def failing(table: str, columns: list[str]) -> TableSuite:
        return TableSuite(table=f"raw.{table}", suite=gx.ExpectationSuite(
            name=f"test.forget.{table}", expectations=[
                gxe.ExpectColumnValuesToMatchRegex(column=column, regex="^nobody$",
                                                   meta=warning("test: fails on every row"))
                for column in columns]))

    report = run_suites("raw", "run-forget-gx", [
        failing("erp_customers", ["first_name", "last_name", "email", "phone", "tax_id"]),
        failing("callcenter_calls", ["caller_name", "phone", "email"]),
    ], as_of=AT, warehouse=db_url)
    assert [c for c in report.checks if not c.success and c.sample]
    files = [p for p in paths().gx_root.rglob("*") if p.is_file()]
    on_disk = "".join(p.read_text(errors="replace") for p in files).lower()
    assert "run-forget-gx" in on_disk and any(p.is_relative_to(paths().data_docs) for p in files)
    # as delivered (ids stay in the warehouse; too short values would match anything)
    her_values = [v for v in (*ERP_CUSTOMERS[0][1:], *CALLS[0][2:], *CALLS[1][2:])
                  if v and len(v) >= 6]
    for needle in [*needles(ZEFIRA), *(str(v).lower() for v in her_values)]:
        assert needle not in on_disk, needle

    erasure.forget(db_url, customer_key="KA", requested_by="dpo", reason="t",
                   manifest_path=manifest)
    with psycopg.connect(db_url) as conn:
        assert leftovers(conn, needles(ZEFIRA)) == []
