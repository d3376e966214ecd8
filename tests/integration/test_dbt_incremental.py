"""The incremental intermediate models (int_order_lines_enriched, int_orders_enriched,
int_customer_golden_values) on the dbt fixture: a rerun of the same data changes nothing, a
day's changes (new and changed orders, lines, products, coupons, customer records, a record moved
to another customer, a customer merged away) give the tables a full refresh gives, and a customer
`onetoone forget` erased keeps no value and no stale row in them."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fixture_database import create_fixture_database, drop_database, warehouse_url_set_to

from onetoone.foundation import config
from onetoone.operations.forget import forget
from onetoone.runtime.dbt import run_dbt, state_manifest_path

pytestmark = pytest.mark.integration

TEST_DB = "onetoone_dbt_incremental"
INCREMENTAL = {
    "int_order_lines_enriched": "order_line_id",
    "int_orders_enriched": "order_id",
    "int_customer_golden_values": "customer_key, attribute_name",
}
SELECTION = ["--select",
             *[f"+{model}" for model in INCREMENTAL]]


@pytest.fixture(scope="module")
def fixture_url(warehouse) -> Iterator[str]:
    url = create_fixture_database(TEST_DB)
    try:
        with warehouse_url_set_to(url):
            yield url
    finally:
        drop_database(TEST_DB)


def dbt(*args: str) -> None:
    """`dbt run` of the incremental models and what they read: their tests run in
    test_dbt_fixture_build.py; here only the tables count."""
    assert run_dbt([*args, "--quiet", "--no-use-colors", *SELECTION]) == 0


def tables(url: str) -> dict[str, list[tuple]]:
    with psycopg.connect(url) as conn:
        return {model: conn.execute(f"select * from intermediate.{model} order by {key}")
                .fetchall() for model, key in INCREMENTAL.items()}


def test_incremental_models_match_a_full_refresh(fixture_url: str) -> None:
    dbt("run", "--full-refresh")
    built = tables(fixture_url)
    assert all(built.values())

    dbt("run")
    assert tables(fixture_url) == built, "a rerun on the same data changed an incremental table"

    with psycopg.connect(fixture_url) as conn:
        conn.execute("""
            -- O002 returned, a new line on O001, a new order of C003, P01's price changed, a
            -- coupon redeemed on O004, C002 moved to another region
            insert into raw.erp_orders (order_id, customer_id, ordered_at, channel, status,
                                        updated_at, _batch_id, _extracted_at) values
                ('O002', 'C001', '2025-03-05 11:00+00', 'store', 'returned',
                 '2025-06-25 10:00+00', 90, '2025-06-26 02:00+00'),
                ('O099', 'C003', '2025-06-25 12:00+00', 'web', 'completed',
                 '2025-06-25 12:00+00', 90, '2025-06-26 02:00+00');
            insert into raw.erp_order_lines (order_id, line_number, product_id, quantity,
                                             unit_price, unit_cost, discount, updated_at,
                                             _batch_id, _extracted_at) values
                ('O001', 9, 'P03', 1, null, null, 0, '2025-06-25 10:00+00', 91,
                 '2025-06-26 02:00+00'),
                ('O099', 1, 'P01', 3, null, null, 5, '2025-06-25 12:00+00', 91,
                 '2025-06-26 02:00+00');
            insert into raw.erp_products (product_id, product_name, category, unit_cost,
                                          unit_price, updated_at, _batch_id, _extracted_at)
            values ('P01', 'Wireless headphones', 'electronics', 45.00, 110.00,
                    '2025-06-25 00:00+00', 92, '2025-06-26 02:00+00');
            insert into raw.web_events (event_id, event_type, occurred_at, account_id, payload,
                                        _batch_id, _source_file, _line_number)
            values ('EV-NEW-COUPON', 'coupon_redemption', '2025-06-25 13:00+00', 'W002',
                    '{"coupon_code": "LATE10", "order_id": "O004"}', 93, 'web/late.ndjson', 1);
            insert into raw.erp_customers (customer_id, first_name, last_name, email, phone,
                                           address_line, city, region, postcode, country,
                                           birth_date, created_at, updated_at, _batch_id,
                                           _extracted_at)
            select customer_id, first_name, last_name, email, phone,
                   address_line, city, 'RJ', postcode, country, birth_date, created_at,
                   '2025-06-25 09:00+00', 94, '2025-06-26 02:00+00'
              from raw.erp_customers where customer_id = 'C002';
            -- identity: W002 moves from K03 to K09, K12 is merged into K08
            update identity.customer_keys set customer_key = 'K09'
             where source = 'web' and source_record_id = 'W002';
            update identity.customer_keys set customer_key = 'K08' where customer_key = 'K12';
        """)
    dbt("run")
    incremental = tables(fixture_url)
    assert incremental != built
    dbt("run", "--full-refresh")
    assert incremental == tables(fixture_url)
    with psycopg.connect(fixture_url) as conn:
        assert not conn.execute("select 1 from intermediate.int_customer_golden_values"
                                " where customer_key = 'K12'").fetchall()
        assert conn.execute("select attribute_value from intermediate.int_customer_golden_values"
                            " where customer_key = 'K02' and attribute_name = 'region'"
                            ).fetchone() == ("RJ",)


def test_a_forgotten_customer_leaves_nothing_stale_in_the_golden_values(fixture_url: str
                                                                         ) -> None:
    dbt("run", "--full-refresh")
    report = forget(fixture_url, customer_key="K01", requested_by="dpo", reason="test",
                    manifest_path=state_manifest_path())
    assert report.counts["intermediate.int_customer_golden_values"] > 0
    dbt("run")
    incremental = tables(fixture_url)
    with psycopg.connect(fixture_url) as conn:
        erased = conn.execute(
            "select attribute_name, attribute_value from intermediate.int_customer_golden_values"
            " where customer_key = 'K01' order by 1").fetchall()
        # What is left of her is what the erased records still give (not a personal field).
        assert {name for name, _ in erased} <= {"city", "region", "country"}, erased
        assert all(value is not None for _, value in erased)
        assert not conn.execute(
            "select 1 from intermediate.int_customer_golden_values"
            " where attribute_value ilike"
            " any(array['%ana.s%', '%souza%', '%11987654321%', '%98765-4321%'])"
        ).fetchall()
    dbt("run", "--full-refresh")
    assert incremental == tables(fixture_url)
    assert config.paths().dbt_target.exists()
