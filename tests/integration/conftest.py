"""Fixtures shared by the integration tests of ingest and quarantine: an empty raw layer in the
session's warehouse, and a small ERP source database with deliberately bad rows."""

from __future__ import annotations

import psycopg
import pytest

from onetoone.operations.migrate import migrate_warehouse


@pytest.fixture
def clean_raw(warehouse_url):
    with psycopg.connect(warehouse_url, autocommit=True) as conn:
        conn.execute("drop schema if exists raw cascade")
        conn.execute("drop schema if exists identity cascade")
    migrate_warehouse(warehouse_url)
    yield warehouse_url


@pytest.fixture
def erp_source(erp_url):
    with psycopg.connect(erp_url, autocommit=True) as conn:
        conn.execute("""
            drop schema if exists erp cascade; create schema erp;
            create table erp.products (product_id text primary key, product_name text,
                category text, unit_cost numeric(12,2), unit_price numeric(12,2),
                updated_at timestamptz);
            create table erp.customers (customer_id text primary key, first_name text,
                last_name text, tax_id text, email text, phone text, address_line text, city text,
                region text, postcode text, country text, birth_date date, created_at timestamptz,
                updated_at timestamptz);
            create table erp.orders (order_id text primary key, customer_id text,
                ordered_at timestamptz, channel text, status text, updated_at timestamptz);
            create table erp.order_lines (order_id text, line_number int, product_id text,
                quantity int, unit_price numeric(12,2), unit_cost numeric(12,2),
                discount numeric(12,2), updated_at timestamptz,
                primary key (order_id, line_number));
            insert into erp.products values
                ('P1', 'Livro', 'books', 10, 25, '2025-01-01'),
                ('P2', 'Bola', 'sports', 5, -3, '2025-01-01');
            insert into erp.customers (customer_id, first_name, last_name, country, updated_at)
                values ('C1', 'João', 'Silva Santos', 'BR', '2025-03-01'),
                       ('C2', 'Ana', 'Gómez', 'MX', '2025-03-12');
            insert into erp.orders values ('O1', 'C1', '2025-03-02', 'web', 'completed',
                '2025-03-02');
            insert into erp.order_lines values
                ('O1', 1, 'P1', 2, 25, 10, 0, '2025-03-02'),
                ('O1', 2, 'P404', 1, 9, 4, 0, '2025-03-02'),
                ('O1', 3, 'P1', -1, 25, 10, 0, '2025-03-02');
        """)
    yield erp_url
