"""Connections: Airflow is the single place the pipeline reads credentials from."""

from __future__ import annotations

from urllib.parse import quote


def conninfo(conn_id: str) -> str:
    """A libpq URI for an Airflow Postgres connection; a host that is a directory is a Unix
    socket directory (the embedded warehouse) and goes in the `host` query parameter."""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id)
    user = quote(conn.login or "postgres", safe="")
    credentials = f"{user}:{quote(conn.password, safe='')}" if conn.password else user
    database = quote(conn.schema or "postgres", safe="")
    host = conn.host or "localhost"
    port = conn.port or 5432
    if host.startswith("/"):
        return f"postgresql://{credentials}@/{database}?host={quote(host, safe='/')}&port={port}"
    return f"postgresql://{credentials}@{host}:{port}/{database}"
