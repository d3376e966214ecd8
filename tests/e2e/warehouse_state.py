"""What a run left in the warehouse, in a form two runs can be compared by."""

from __future__ import annotations

import psycopg

# Columns that say when something ran, not what it produced: the only ones a rerun may change.
WALL_CLOCK_COLUMNS = {"checked_at", "_extracted_at", "_loaded_at", "assigned_at", "started_at",
                      "finished_at", "quarantined_at", "reprocessed_at"}


def warehouse_fingerprint(conn: psycopg.Connection) -> dict[str, str]:
    """A hash of every table in raw, identity and marts, row order independent, without the
    wall-clock columns. What a run writes is keyed by the interval it covers, so quality
    summaries, review queue and value runs of a rerun replace the first run's."""
    tables = [f"{schema}.{name}" for schema, name in conn.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_schema in ('raw', 'identity', 'marts') order by 1, 2")]
    fingerprint = {}
    for table in tables:
        columns = [r[0] for r in conn.execute(
            "select column_name from information_schema.columns"
            " where table_schema || '.' || table_name = %s and not (column_name = any(%s))"
            " order by ordinal_position", (table, sorted(WALL_CLOCK_COLUMNS)))]
        rows = conn.execute(
            f"select count(*) || ':' || coalesce(md5(string_agg(t::text, '|' order by t::text)),"
            f" '') from (select {', '.join(columns)} from {table}) t").fetchone()[0]
        fingerprint[table] = rows
    return fingerprint
