"""What auditors see of failing values: personal ones only as their shape, next to the batch and
line (or record) that holds them; other values as they are.

A table's personal columns come from their one declaration: ``foundation.personal`` for the raw
layer, the marts' dbt YAML (``meta: {pii: true}``) for ``marts_build`` and ``marts``. A mart
the dbt manifest does not know is treated as all personal (fail closed).

GX is told to keep no failing values of a table with personal columns
(``exclude_unexpected_values``), only the locator columns of the failing rows; the sample the
audit keeps is read back here by those locators and masked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from onetoone.foundation.config import BUILD_SCHEMA, PUBLISHED_SCHEMA, RAW_SCHEMA
from onetoone.foundation.personal import raw_personal_names, raw_record_id
from onetoone.runtime.dbt import MartColumns

# Columns that point at a raw row without saying anything about the person in it.
LINEAGE_LOCATOR = ("_batch_id", "_source_file", "_line_number")
MART_LOCATOR = ("customer_key",)  # a pseudonym (docs/access-and-privacy.md)
VISIBLE_SPACE = "\u2423"  # "␣": a value's leading, trailing or doubled spaces stay visible
KEY_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class TablePrivacy:
    """A validated table's personal column names (None: unknown, so all) and its locators."""

    personal: frozenset[str] | None
    locator: tuple[str, ...]

    @property
    def masked(self) -> bool:
        return self.personal is None or bool(self.personal)

    def is_personal(self, column: str) -> bool:
        return self.personal is None or column.lower() in self.personal


def table_privacy(
    table: str, columns: list[str], marts: dict[str, MartColumns]
) -> TablePrivacy:
    """``table`` is ``schema.name``; ``columns`` those it has, ``marts`` the dbt manifest's."""
    schema, name = table.split(".", 1)
    locator = [column for column in LINEAGE_LOCATOR if column in columns]
    personal: frozenset[str] | None
    if schema == RAW_SCHEMA:
        personal = raw_personal_names(name)
        record_id = raw_record_id(name)
        if "_line_number" not in locator and record_id in columns:
            locator.append(record_id)  # an ERP row has no line: its record id names it
    elif schema in (BUILD_SCHEMA, PUBLISHED_SCHEMA):
        spec = marts.get(name)
        personal = None if spec is None else spec.personal
        locator += [column for column in MART_LOCATOR if column in columns]
    else:
        personal = frozenset()
    return TablePrivacy(personal=personal, locator=tuple(locator))


def shape(value: Any) -> str | None:
    """A value's shape: letters as ``a``/``A``, digits as ``9``, spaces as ``␣``, every other
    character kept, so ``Ana.Silva @x.com`` reads ``Aaa.Aaaaa␣@a.aaa``: why it failed shows,
    whose it is does not."""
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return "".join(
        ("A" if char.isupper() else "a") if char.isalpha()
        else "9" if char.isdigit()
        else VISIBLE_SPACE if char.isspace()
        else char
        for char in text
    )


def mask_row(row: dict[str, Any], privacy: TablePrivacy) -> dict[str, Any]:
    """A failing row with its personal values replaced by their shape."""
    return {
        name: shape(value) if privacy.is_personal(name) and name not in privacy.locator
        else value
        for name, value in row.items()
    }


def masked_sample(
    conn: psycopg.Connection,
    batch_query: str,
    result: dict[str, Any],
    privacy: TablePrivacy,
    limit: int,
) -> list[dict[str, Any]]:
    """The failing rows of one expectation result on a masked table, read again by the
    locators GX returned (or by the rule's own query), personal values masked."""
    kwargs = result["expectation_config"]["kwargs"]
    if "unexpected_rows_query" in kwargs:
        # GX substitutes {batch} the same way: the batch's query as a derived table.
        query = kwargs["unexpected_rows_query"].format(batch=f"({batch_query})")
        rows = _dict_rows(conn, sql.SQL("select * from ({}) as unexpected limit {}").format(
            sql.SQL(query), sql.Literal(limit)), ())
        return [mask_row(row, privacy) for row in rows]
    columns = _domain_columns(kwargs)
    keys = _locator_keys(result, privacy.locator)[:limit]
    if not columns or not keys:
        return []
    locator = [sql.Identifier(column) for column in privacy.locator]
    query = sql.SQL(
        "select {selected} from ({batch}) as batch"
        " where concat_ws({separator}, {key}) = any(%s) limit {limit}"
    ).format(
        selected=sql.SQL(", ").join(
            [*locator, *(sql.Identifier(c) for c in columns if c not in privacy.locator)]),
        batch=sql.SQL(batch_query),
        separator=sql.Literal(KEY_SEPARATOR),
        key=sql.SQL(", ").join(
            sql.SQL("coalesce({}::text, '')").format(column) for column in locator),
        limit=sql.Literal(limit),
    )
    rows = _dict_rows(conn, query, (keys,))
    if any(privacy.is_personal(column) for column in columns):
        # The value is masked: where it is tells an engineer which row to look at.
        return [mask_row(row, privacy) for row in rows]
    # Nothing personal: the failing values themselves, as GX gives them for other tables.
    if len(columns) == 1:
        return [row[columns[0]] for row in rows]
    return [{column: row[column] for column in columns} for row in rows]


def _dict_rows(conn: psycopg.Connection, query: sql.Composable,
               params: tuple[Any, ...]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        return [
            {name: _jsonable(value) for name, value in row.items()}
            for row in cursor.execute(query, params).fetchall()
        ]


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, (bool, int, float, str, dict, list)) \
        else str(value)


def _domain_columns(kwargs: dict[str, Any]) -> list[str]:
    if "column" in kwargs:
        return [kwargs["column"]]
    if "column_list" in kwargs:
        return list(kwargs["column_list"])
    return [kwargs[key] for key in ("column_A", "column_B") if key in kwargs]


def _locator_keys(result: dict[str, Any], locator: tuple[str, ...]) -> list[str]:
    """GX's ``partial_unexpected_index_list`` without values: ``[{column: [v1, v2, ...]}]``."""
    index = (result.get("result") or {}).get("partial_unexpected_index_list") or []
    if not index or not locator:
        return []
    columns = index[0]
    rows = zip(*(columns.get(column, []) for column in locator), strict=False)
    return [KEY_SEPARATOR.join("" if v is None else str(v) for v in row) for row in rows]
