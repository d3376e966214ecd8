"""Who may read what, decided without a database: each schema's grants, BI's columns of the
published marts (documented and not personal, failing closed), and which logins are refused.
tests/integration/test_access.py checks the same against PostgreSQL's own privileges."""

from __future__ import annotations

import logging

import pytest

from onetoone.foundation.config import AUDIT_SCHEMA, BI_SCHEMA, PUBLISHED_SCHEMA
from onetoone.runtime.dbt import MartColumns
from onetoone.stages.serving.access import bi_columns, check_login, schema_grants

ENGINEER_GRANTS = [
    "create schema if not exists {schema}",
    "grant all on schema {schema} to {engineer}",
    "grant all on all tables in schema {schema} to {engineer}",
    "grant all on all sequences in schema {schema} to {engineer}",
    "alter default privileges in schema {schema} grant all on tables to {engineer}",
    "alter default privileges in schema {schema} grant all on sequences to {engineer}",
]


@pytest.mark.parametrize(("schema", "others"), [
    # published marts: BI only through its views in `bi`; auditors get column grants at publish
    (PUBLISHED_SCHEMA, ["revoke all on schema {schema} from {bi}",
                        "grant usage on schema {schema} to {auditor}"]),
    (BI_SCHEMA, ["grant usage on schema {schema} to {bi}",
                 "revoke all on schema {schema} from {auditor}"]),
    (AUDIT_SCHEMA, ["revoke all on schema {schema} from {bi}",
                    "grant usage on schema {schema} to {auditor}",
                    "revoke all on all tables in schema {schema} from {bi}, {auditor}",
                    "grant select on all tables in schema {schema} to {auditor}",
                    "alter default privileges in schema {schema} grant select on tables"
                    " to {auditor}"]),
    ("raw", ["revoke all on schema {schema} from {bi}, {auditor}"]),
])
def test_each_schema_gets_exactly_its_designed_grants(schema, others):
    assert schema_grants(schema) == ENGINEER_GRANTS + others


CONTACT = MartColumns(documented=frozenset({"customer_key", "email", "country"}),
                      personal=frozenset({"email"}), tags=frozenset())


def test_bi_reads_documented_non_personal_columns_in_table_order(caplog):
    tables = {"mart_customer_contact": ["country", "email", "customer_key", "secret_note",
                                        "load_flag"]}
    with caplog.at_level(logging.WARNING):
        assert bi_columns(tables, {"mart_customer_contact": CONTACT}) == {
            "mart_customer_contact": ["country", "customer_key"]}
    assert caplog.messages == [
        f"{PUBLISHED_SCHEMA}.mart_customer_contact: columns not documented in the dbt YAML are"
        " withheld from BI: secret_note, load_flag"]


def test_bi_gets_nothing_of_an_unknown_table_or_one_with_only_personal_columns(caplog):
    personal_only = MartColumns(documented=frozenset({"email"}), personal=frozenset({"email"}),
                                tags=frozenset())
    tables = {"mart_unknown": ["customer_key"], "mart_emails": ["email"],
              "mart_customer_contact": ["customer_key"]}
    with caplog.at_level(logging.WARNING):
        granted = bi_columns(tables, {"mart_emails": personal_only,
                                      "mart_customer_contact": CONTACT})
    assert granted == {"mart_customer_contact": ["customer_key"]}
    assert caplog.messages == [
        f"{PUBLISHED_SCHEMA}.mart_unknown is not in the dbt manifest: BI gets no view of it"]


@pytest.mark.parametrize(("name", "role", "password", "error"), [
    ("ana", "admin", "pw", "unknown role 'admin'; expected one of engineer, bi, auditor"),
    ("onetoone_bi", "bi", "pw", "'onetoone_bi' is reserved; choose a personal or tool login name"),
    ("postgres", "bi", "pw", "'postgres' is reserved; choose a personal or tool login name"),
    ("pg_monitor", "bi", "pw", "'pg_monitor' is reserved; choose a personal or tool login name"),
    ("ana", "bi", "", "a login needs a non-empty password"),
])
def test_a_login_must_be_personal_in_a_known_role_with_a_password(name, role, password, error):
    with pytest.raises(ValueError) as refused:
        check_login(name, role, password)
    assert str(refused.value) == error


@pytest.mark.parametrize("role", ["engineer", "bi", "auditor"])
def test_a_personal_login_in_a_group_role_is_accepted(role):
    check_login("ana_pg", role, "s3cret")
