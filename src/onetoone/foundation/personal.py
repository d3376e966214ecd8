"""The raw layer's personal fields, declared once: what erasure nulls, what loads scrub again,
and what quality samples mask (docs/data-contracts.md, section 2).

The marts' personal columns are declared in their dbt YAML (``meta: {pii: true}``) and read
through ``onetoone.runtime.dbt.mart_columns``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SourceTable:
    """A raw table of customer records: the column naming the record, and the personal ones."""

    table: str
    source: str
    entity: str
    record_id: str
    personal: tuple[str, ...]


SOURCE_TABLES = (
    SourceTable("erp_customers", "erp", "customers", "customer_id",
                ("first_name", "last_name", "tax_id", "email", "phone", "address_line",
                 "postcode", "birth_date")),
    SourceTable("callcenter_calls", "callcenter", "calls", "contact_id",
                ("caller_name", "phone", "email")),
)
# Web events keep personal fields in their JSON payload, keyed by account_id.
WEB_EVENTS_TABLE = "web_events"
WEB_PAYLOAD_COLUMN = "payload"
WEB_PERSONAL_KEYS = ("email", "first_name", "last_name", "phone", "birth_date")


def raw_personal_names(table: str) -> frozenset[str]:
    """Names under which a raw table's rows can show personal data: its personal columns, and
    for web events the payload and its personal keys (as a query names what it extracts)."""
    names = {name for t in SOURCE_TABLES if t.table == table for name in t.personal}
    if table == WEB_EVENTS_TABLE:
        names |= {WEB_PAYLOAD_COLUMN, *WEB_PERSONAL_KEYS}
    return frozenset(names)


def raw_record_id(table: str) -> str | None:
    """The column naming the customer record in a raw table of customer records."""
    return next((t.record_id for t in SOURCE_TABLES if t.table == table), None)
