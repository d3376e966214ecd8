"""Incremental extraction from the ERP database into the raw layer.

Each table is extracted by window on ``updated_at``: (end of the previous window, end of the data
interval]. The window is stored in the ledger, so rerunning an interval re-extracts exactly the same
window and replaces its batch.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cached_property

import psycopg
from psycopg.adapt import Loader

from onetoone.stages.ingest.ledger import (
    BatchResult,
    QuarantinedRow,
    Reloader,
    RowToLoad,
    batch_transaction,
    close_batch,
    copy_batch_rows,
    open_batch,
)
from onetoone.stages.ingest.scrub import vacuum_scrubbed

log = logging.getLogger(__name__)

RowCheck = Callable[[dict, "ExtractContext"], tuple[str, str] | None]


@dataclass
class ExtractContext:
    known_product_ids: set[str]


@dataclass(frozen=True)
class ErpTable:
    entity: str
    columns: tuple[str, ...]
    key: tuple[str, ...]
    check: RowCheck


def _non_negative(*fields: str) -> RowCheck:
    def check(row: dict, _: ExtractContext) -> tuple[str, str] | None:
        for field in fields:
            if row[field] is not None and row[field] < 0:
                return field, f"negative {field} {row[field]}"
        return None
    return check


def _required(*fields: str) -> RowCheck:
    def check(row: dict, _: ExtractContext) -> tuple[str, str] | None:
        for field in fields:
            if row[field] is None or (isinstance(row[field], str) and not row[field].strip()):
                return field, f"{field} is empty"
        return None
    return check


def _all(*checks: RowCheck) -> RowCheck:
    def check(row: dict, context: ExtractContext) -> tuple[str, str] | None:
        for one in checks:
            problem = one(row, context)
            if problem:
                return problem
        return None
    return check


def _known_product(row: dict, context: ExtractContext) -> tuple[str, str] | None:
    if row["product_id"] not in context.known_product_ids:
        return "product_id", f"unknown product {row['product_id']!r}: not in the ERP products table"
    return None


ERP_TABLES = (
    ErpTable("products",
             ("product_id", "product_name", "category", "unit_cost", "unit_price", "updated_at"),
             ("product_id",),
             _all(_required("product_id", "unit_price", "unit_cost"),
                  _non_negative("unit_cost", "unit_price"))),
    ErpTable("customers",
             ("customer_id", "first_name", "last_name", "tax_id", "email", "phone", "address_line",
              "city", "region", "postcode", "country", "birth_date", "created_at", "updated_at"),
             ("customer_id",),
             _required("customer_id")),
    ErpTable("orders",
             ("order_id", "customer_id", "ordered_at", "channel", "status", "updated_at"),
             ("order_id",),
             _required("order_id", "customer_id", "ordered_at")),
    ErpTable("order_lines",
             ("order_id", "line_number", "product_id", "quantity", "unit_price", "unit_cost",
              "discount", "updated_at"),
             ("order_id", "line_number"),
             _all(_required("order_id", "line_number", "product_id", "quantity", "unit_price"),
                  _non_negative("quantity", "unit_price", "unit_cost", "discount"),
                  _known_product)),
)


ERP_TABLES_BY_ENTITY = {table.entity: table for table in ERP_TABLES}
INTEGER_MIN, INTEGER_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class RawColumn:
    """A column of a raw ERP table as the warehouse declares it."""

    data_type: str  # as information_schema names it: integer, numeric, text, date, ...
    numeric_precision: int | None = None
    numeric_scale: int | None = None

    @cached_property
    def numeric_limit(self) -> Decimal | None:
        """numeric(p, s) rounds to s places, then holds under 10^(p - s): a value at or over
        this limit overflows (9999999999.995 in numeric(12, 2))."""
        if self.numeric_precision is None or self.numeric_scale is None:
            return None
        return (Decimal(10) ** (self.numeric_precision - self.numeric_scale)
                - Decimal(5) / 10 ** (self.numeric_scale + 1))


def raw_columns(conn: psycopg.Connection, entity: str) -> dict[str, RawColumn]:
    """The raw table's columns for ``entity``, read from the warehouse."""
    return {name: RawColumn(*rest) for name, *rest in conn.execute(
        "select column_name, data_type, numeric_precision, numeric_scale"
        " from information_schema.columns where table_schema = 'raw' and table_name = %s",
        (f"erp_{entity}",))}


class Unreadable(str):
    """A value the ERP holds that Python cannot (a date before year 1 or after 9999,
    'infinity'): kept as the ERP's text so that the row is quarantined, not the run stopped."""


class _LenientLoader(Loader):
    """The ordinary (C) loader of a date/time type; what it cannot load becomes Unreadable."""

    def __init__(self, oid: int, context: object = None) -> None:
        super().__init__(oid, context)
        self._loader = psycopg.adapters.get_loader(oid, psycopg.pq.Format.TEXT)(oid, context)

    def load(self, data: bytes) -> object:
        try:
            return self._loader.load(data)
        except psycopg.DataError:
            return Unreadable(bytes(data).decode("utf-8", "backslashreplace"))


StorableCheck = Callable[[list[object]], tuple[str, str] | None]


def storable_check(columns: tuple[str, ...], raw: dict[str, RawColumn]) -> StorableCheck:
    """A check of a row's values (in ``columns`` order) against the raw columns they go to:
    (field, reason) for the first value its column cannot hold. Run before the row checks, so
    that a NaN never reaches a comparison, and so that no value aborts the COPY. A whole
    number the ERP holds as numeric (a widened column) is put in ``values`` as an int."""
    checked = [(i, name, raw[name]) for i, name in enumerate(columns)
               if raw[name].data_type in ("integer", "numeric") or "date" in raw[name].data_type
               or "timestamp" in raw[name].data_type]

    def check(values: list[object]) -> tuple[str, str] | None:
        for i, name, column in checked:
            value = values[i]
            if value is None:
                continue
            if type(value) is Unreadable:
                # The value itself is not shown: it may be a birth date.
                return name, (f"{name} is not a {column.data_type} the warehouse can hold (a"
                              " finite value in years 1 to 9999)")
            if column.data_type == "integer":
                if isinstance(value, Decimal) and value.is_finite() and \
                        value == value.to_integral_value():
                    values[i] = value = int(value)
                if type(value) is not int:
                    return name, f"{name} {value} is not a whole number"
                if not INTEGER_MIN <= value <= INTEGER_MAX:
                    return name, (f"{name} {value} is outside the integer range"
                                  f" {INTEGER_MIN}..{INTEGER_MAX}")
            elif column.data_type == "numeric" and isinstance(value, Decimal | int):
                problem = _numeric_problem(name, value, column)
                if problem:
                    return name, problem
        return None

    return check


def _numeric_problem(name: str, value: Decimal | int, column: RawColumn) -> str | None:
    if isinstance(value, Decimal) and not value.is_finite():
        return f"{name} {value} is not a finite number"
    if column.numeric_limit is not None and abs(value) >= column.numeric_limit:
        return (f"{name} {value} does not fit numeric({column.numeric_precision},"
                f" {column.numeric_scale})")
    return None


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError
    return int(value)


def _numeric(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError  # floats would carry binary rounding into money columns
    number = Decimal(str(value))
    if not number.is_finite():
        raise ValueError
    return number


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError
    return value


def _timestamptz(value: object) -> datetime:
    stamp = datetime.fromisoformat(str(value))
    if stamp.tzinfo is None:
        raise ValueError
    return stamp


# PostgreSQL type of a raw ERP column -> the Python value the extract would have read.
_FROM_JSON: dict[str, Callable[[object], object]] = {
    "text": _text,
    "integer": _integer,
    "numeric": _numeric,
    "date": lambda value: date.fromisoformat(str(value)),
    "timestamp with time zone": _timestamptz,
}


def parse_erp_record(table: ErpTable, text: str, columns: dict[str, RawColumn],
                     context: ExtractContext) -> tuple[dict | None, tuple[str | None, str] | None]:
    """A quarantined ERP row (the JSON object ingest stored) typed back and checked again with
    the table's row check: (row, None) if it passes, (None, (field, reason)) if not.

    ``columns`` describes the raw table (``raw_columns``)."""
    try:
        record = json.loads(text)
    except json.JSONDecodeError as err:
        return None, (None, f"not JSON: {err.msg} at column {err.colno}")
    if not isinstance(record, dict):
        return None, (None, f"expected a JSON object, found {type(record).__name__}")
    missing = [c for c in table.columns if c not in record]
    extra = [c for c in record if c not in table.columns]
    if missing or extra:
        return None, (None, f"the row must have exactly the columns of erp.{table.entity}"
                      + (f"; missing: {', '.join(missing)}" if missing else "")
                      + (f"; unexpected: {', '.join(extra)}" if extra else ""))
    row = {}
    for column in table.columns:
        value = record[column]
        if value is None:
            row[column] = None
            continue
        data_type = columns[column].data_type
        try:
            row[column] = _FROM_JSON[data_type](value)
        except (ValueError, ArithmeticError):
            return None, (column, f"{column}: {value!r} is not a valid {data_type}")
    values = [row[column] for column in table.columns]
    problem = storable_check(table.columns, columns)(values) or table.check(row, context)
    return (None, problem) if problem else (row, None)


def record_key(table: ErpTable, row: dict) -> str:
    """An ERP row's identity in its batch, the same on every extraction of the window: its key
    ("order_id=O1, line_number=2"), or when a key column is empty its content's hash."""
    if any(row[column] is None for column in table.key):
        text = json.dumps(row, default=str, ensure_ascii=False)
        return "content " + hashlib.sha256(text.encode()).hexdigest()[:16]
    return ", ".join(f"{column}={row[column]}" for column in table.key)


def _window_start(conn: psycopg.Connection, entity: str, source_ref: str,
                  until: datetime) -> datetime | None:
    """The window of an interval already in the ledger is reused, so a rerun is identical."""
    row = conn.execute(
        "select window_start from raw.load_batches where source = 'erp' and entity = %s"
        " and source_ref = %s", (entity, source_ref)).fetchone()
    if row:
        return row[0]
    row = conn.execute(
        "select max(window_end) from raw.load_batches where source = 'erp' and entity = %s"
        " and status = 'loaded' and window_end < %s", (entity, until)).fetchone()
    return row[0]


class ErpContractBroken(Exception):
    """An ERP table lacks columns the extract reads: nothing was extracted."""


def check_erp_contract(erp: psycopg.Connection) -> None:
    """Refuse the whole extraction, before any table is read, if a table lost a column: a
    partial extraction would advance some windows and not others. New columns are not part of
    the contract and are not extracted; they are logged so that someone decides."""
    present: dict[str, set[str]] = {}
    for table, column in erp.execute(
            "select table_name, column_name from information_schema.columns"
            " where table_schema = 'erp'"):
        present.setdefault(table, set()).add(column)
    problems = []
    for table in ERP_TABLES:
        columns = present.get(table.entity)
        if columns is None:
            problems.append(f"table erp.{table.entity} is missing")
            continue
        missing = [c for c in table.columns if c not in columns]
        if missing:
            problems.append(f"erp.{table.entity} is missing column(s) {', '.join(missing)}")
        extra = sorted(columns - set(table.columns))
        if extra:
            log.warning("erp.%s has column(s) %s that the extract contract does not name; not"
                        " extracted (docs/data-contracts.md)", table.entity, ", ".join(extra))
    if problems:
        raise ErpContractBroken(
            "ERP extraction refused, nothing extracted: " + "; ".join(problems)
            + ". The extract contract (docs/data-contracts.md, ERP source database) needs them;"
            " restore them in the ERP or change the contract and ERP_TABLES together")


def extract_erp(
    warehouse: psycopg.Connection, erp: psycopg.Connection, *, until: datetime,
    run_id: str | None = None, reload_reprocessed: Reloader | None = None,
) -> list[BatchResult]:
    """Extract every ERP table's changes up to ``until`` (inclusive) into raw, one batch each."""
    if until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    check_erp_contract(erp)
    context = ExtractContext(
        known_product_ids={r[0] for r in erp.execute("select product_id from erp.products")})
    results = []
    for table in ERP_TABLES:
        columns = raw_columns(warehouse, table.entity)
        source_ref = f"erp.{table.entity} updated up to {until.isoformat()}"
        with batch_transaction(warehouse):
            start = _window_start(warehouse, table.entity, source_ref, until)
            batch_id = open_batch(warehouse, source="erp", entity=table.entity,
                                  source_ref=source_ref, window_start=start, window_end=until,
                                  run_id=run_id)
            result = BatchResult(batch_id, "erp", table.entity, source_ref, "loaded")
            _copy_window(warehouse, erp, table, columns, start, until, context, result)
            close_batch(warehouse, result, erp_context=context,
                        reload_reprocessed=reload_reprocessed)
        vacuum_scrubbed(warehouse, result.scrubbed)
        if result.rows_quarantined:
            log.warning("erp.%s: %d of %d rows quarantined", table.entity,
                        result.rows_quarantined, result.rows_read)
        results.append(result)
    return results


def _copy_window(warehouse: psycopg.Connection, erp: psycopg.Connection, table: ErpTable,
                 raw: dict[str, RawColumn], start: datetime | None, until: datetime,
                 context: ExtractContext, result: BatchResult) -> None:
    columns = ", ".join(table.columns)
    condition = "updated_at <= %(until)s" + (" and updated_at > %(start)s" if start else "")
    extracted_at = until
    storable = storable_check(table.columns, raw)

    def rows() -> Iterator[RowToLoad]:
        with erp.cursor(name=f"extract_{table.entity}") as source_rows:
            source_rows.itersize = 20_000
            for type_name in ("date", "timestamp", "timestamptz"):
                source_rows.adapters.register_loader(type_name, _LenientLoader)
            source_rows.execute(
                f"select {columns} from erp.{table.entity} where {condition}"
                f" order by {', '.join(table.key)}",
                {"until": until, "start": start},
            )
            for values in map(list, source_rows):
                problem = storable(values)
                row = dict(zip(table.columns, values, strict=True))
                problem = problem or table.check(row, context)
                if problem:
                    yield _quarantined(table, row, *problem)
                else:
                    yield ((*values, result.batch_id, extracted_at),
                           lambda field, reason, row=row: _quarantined(table, row, field, reason))

    copy_batch_rows(warehouse, result, f"copy raw.erp_{table.entity} ({columns}, _batch_id,"
                    " _extracted_at) from stdin", rows)


def _quarantined(table: ErpTable, row: dict, field: str | None, reason: str) -> QuarantinedRow:
    return QuarantinedRow(None, field, reason, json.dumps(row, default=str, ensure_ascii=False),
                          record_key=record_key(table, row))
