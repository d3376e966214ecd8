"""Connections: Airflow is the single place the pipeline reads credentials from."""

from __future__ import annotations

from psycopg.conninfo import make_conninfo


def conninfo(conn_id: str) -> str:
    """A libpq connection string for an Airflow Postgres connection (host may be a socket dir)."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    return make_conninfo(
        host=conn.host or "localhost",
        port=conn.port or 5432,
        user=conn.login or "postgres",
        password=conn.password or None,
        dbname=conn.schema or "postgres",
    )
