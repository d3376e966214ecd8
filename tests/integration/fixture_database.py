"""Databases of their own on the session's server, holding the stages' DDL (the warehouse's own
migrate) and the dbt fixture's rows (``dbt_project/tests/fixtures/onetoone_fixture.sql``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import pytest

from onetoone.foundation import config
from onetoone.operations.migrate import migrate_warehouse

FIXTURE_SQL = config.DBT_PROJECT_DIR / "tests" / "fixtures" / "onetoone_fixture.sql"


def create_fixture_database(name: str) -> str:
    """A fresh database ``name`` (any earlier one dropped), migrated and loaded with the
    fixture; answer its URL."""
    drop_database(name)
    with psycopg.connect(config.embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'create database "{name}"')
    url = config.embedded_url(name)
    migrate_warehouse(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(FIXTURE_SQL.read_text())
    return url


def drop_database(name: str) -> None:
    with psycopg.connect(config.embedded_url("postgres"), autocommit=True) as admin:
        admin.execute(f'drop database if exists "{name}" with (force)')


@contextmanager
def warehouse_url_set_to(url: str) -> Iterator[str]:
    """Point ``ONETOONE_WAREHOUSE_URL`` (what dbt's profile and the CLI read) at ``url`` for the
    block, and put back what it was."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ONETOONE_WAREHOUSE_URL", url)
        yield url
