"""The front line's side of serving: bearer tokens (only their hashes are stored), the audit of
every lookup and customer view (field names and a keyed hash, never the searched values), and
the customer view read from the published marts, without personal columns unless allowed.

Personal columns are those the marts' dbt YAML marks ``meta: {pii: true}`` (``mart_columns``);
a mart or column the manifest does not document is withheld from everyone (fail closed).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from onetoone.foundation.config import PUBLISHED_SCHEMA, paths
from onetoone.foundation.db import apply_ddl
from onetoone.runtime.dbt import MartColumns

FRONTLINE = "frontline"
BI = "bi"
ROLES = (FRONTLINE, BI)
TOKEN_PREFIX = "o2o"
# A front-line agent sees a customer's contact data for this long after a lookup that
# answered that customer (a call, a visit), not for ever.
CONTACT_DATA_WINDOW = timedelta(hours=12)
INTERACTIONS_SHOWN = 10

# The customer view: section -> mart (one row per customer in each, interactions aside).
VIEW_SECTIONS = {
    "golden_record": "dim_customers",
    "value": "mart_customer_value",
    "needs": "mart_customer_needs",
    "portfolio": "mart_portfolios",
    "treatment": "mart_customer_treatments",
    "contact_policy": "mart_customer_contact",
}
INTERACTIONS_MART = "fct_interactions"


@dataclass(frozen=True)
class Principal:
    token_id: str
    role: str
    holder: str


class MartsNotPublished(RuntimeError):
    """The published marts the customer view reads are missing (no run published yet)."""


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create or migrate the front-line tables in the audit schema (idempotent)."""
    apply_ddl(conn, "onetoone.stages.serving")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(conn: psycopg.Connection, holder: str, role: str) -> str:
    """A new bearer token for ``holder`` in ``role``; only its hash is stored, so the caller
    shows it once."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {', '.join(ROLES)}")
    if not holder.strip():
        raise ValueError("a token needs a holder (a person or a tool)")
    token_id = secrets.token_hex(6)
    token = f"{TOKEN_PREFIX}.{token_id}.{secrets.token_urlsafe(32)}"
    conn.execute("insert into audit.frontline_tokens (token_id, token_hash, role, holder)"
                 " values (%s, %s, %s, %s)", (token_id, token_hash(token), role, holder.strip()))
    return token


def revoke_token(conn: psycopg.Connection, token_id: str) -> bool:
    found = conn.execute("update audit.frontline_tokens set revoked_at = now()"
                         " where token_id = %s and revoked_at is null", (token_id,))
    return found.rowcount == 1


def authenticate(conn: psycopg.Connection, token: str) -> Principal | None:
    """The token's holder and role, or None (unknown, revoked or malformed)."""
    if not token.startswith(f"{TOKEN_PREFIX}.") or len(token) > 200:
        return None
    row = conn.execute("select token_id, role, holder from audit.frontline_tokens"
                       " where token_hash = %s and revoked_at is null",
                       (token_hash(token),)).fetchone()
    return Principal(*row) if row else None


def audit_key_path() -> Path:
    return paths().home / "frontline" / "audit.key"


def audit_key() -> bytes:
    """The key of the audit's contact hashes, made on first use and readable by its owner
    only: with it an auditor can check whether a given contact was searched; without it the
    hash says nothing (a plain hash of a phone number is reversed by trying them all)."""
    path = audit_key_path()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(secrets.token_bytes(32))
    return path.read_bytes()


def contact_hash(key: bytes, contact: dict[str, str | None]) -> str:
    canonical = json.dumps({k: v for k, v in sorted(contact.items()) if v is not None},
                           ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def record_access(conn: psycopg.Connection, principal: Principal, *, kind: str,
                  fields_given: list[str], contact_digest: str | None, outcome: str,
                  result_keys: list[str], latency_ms: float,
                  model_version: str | None = None) -> None:
    conn.execute(
        "insert into audit.frontline_lookups (token_id, role, kind, fields_given, contact_hash,"
        " outcome, result_count, top_key, result_keys, latency_ms, model_version)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
        (principal.token_id, principal.role, kind, sorted(fields_given), contact_digest, outcome,
         len(result_keys), result_keys[0] if result_keys else None, result_keys, latency_ms,
         model_version))


def record_capture(conn: psycopg.Connection, principal: Principal, *, fields_given: list[str],
                   contact_digest: str | None, outcome: str, source_record: str | None,
                   landing_file: str | None, latency_ms: float) -> None:
    """Audit a caller recorded by the front line (``audit.frontline_captures``), no value."""
    conn.execute(
        "insert into audit.frontline_captures (token_id, role, fields_given, contact_hash,"
        " outcome, source_record, landing_file, latency_ms)"
        " values (%s, %s, %s, %s, %s, %s, %s, %s)",
        (principal.token_id, principal.role, sorted(fields_given), contact_digest, outcome,
         source_record, landing_file, latency_ms))


def has_looked_up(conn: psycopg.Connection, principal: Principal, customer_key: str) -> bool:
    """Whether this token's lookups answered this customer within ``CONTACT_DATA_WINDOW``."""
    row = conn.execute(
        "select 1 from audit.frontline_lookups where token_id = %s and kind = 'lookup'"
        " and %s = any(result_keys) and occurred_at >= now() - %s limit 1",
        (principal.token_id, customer_key, CONTACT_DATA_WINDOW)).fetchone()
    return row is not None


def customer_view(conn: psycopg.Connection, customer_key: str,
                  marts: dict[str, MartColumns], *, personal: bool) -> dict[str, Any] | None:
    """The customer's published view by section (None: no such customer); personal columns
    only when ``personal``. Columns the dbt YAML does not document are never shown."""
    missing = _missing_marts(conn)
    if missing:
        raise MartsNotPublished(f"the published marts lack {', '.join(missing)}: "
                                "run the pipeline (its publish step) first")
    with conn.cursor(row_factory=dict_row) as cur:
        view: dict[str, Any] = {}
        for section, mart in VIEW_SECTIONS.items():
            cur.execute(sql.SQL("select * from {} where customer_key = %s").format(
                sql.Identifier(PUBLISHED_SCHEMA, mart)), (customer_key,))
            row = cur.fetchone()
            if section == "golden_record" and row is None:
                return None
            view[section] = None if row is None else _shown(row, marts.get(mart), personal)
        cur.execute(sql.SQL("select * from {} where customer_key = %s"
                            " order by interaction_at desc, interaction_id limit %s").format(
            sql.Identifier(PUBLISHED_SCHEMA, INTERACTIONS_MART)),
            (customer_key, INTERACTIONS_SHOWN))
        view["last_interactions"] = [_shown(row, marts.get(INTERACTIONS_MART), personal)
                                     for row in cur.fetchall()]
    view["personal_fields_shown"] = personal
    return view


def personal_columns(marts: dict[str, MartColumns]) -> dict[str, list[str]]:
    """Per section, the personal columns its mart declares (what the page may mark)."""
    return {section: sorted(marts[mart].personal) for section, mart in VIEW_SECTIONS.items()
            if mart in marts}


def _missing_marts(conn: psycopg.Connection) -> list[str]:
    wanted = [*VIEW_SECTIONS.values(), INTERACTIONS_MART]
    present = {name for (name,) in conn.execute(
        "select table_name from information_schema.tables where table_schema = %s",
        (PUBLISHED_SCHEMA,))}
    return [f"{PUBLISHED_SCHEMA}.{name}" for name in wanted if name not in present]


def _shown(row: dict[str, Any], spec: MartColumns | None, personal: bool) -> dict[str, Any]:
    if spec is None:
        return {}
    allowed = spec.documented if personal else spec.readable
    return {name: _json_value(value) for name, value in row.items() if name in allowed}


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value

