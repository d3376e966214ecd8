"""Marts layer: business rules on ``marts_build`` before the tables are swapped into ``marts``.

Keys and relationships (unique / not_null customer_key, references to dim_customers, row counts
equal to dim_customers) are dbt tests; these suites hold the business rules and reconcile the
marts with the layers they are built from.

The margin reconciliation recomputes, from raw ERP rows, what
``mart_customer_value.trailing_margin`` sums to: latest version of every order, line and product
(by ``updated_at``); completed orders of customers known to identity, ordered in the trailing
window ``[as_of_date - 12 months, as_of_date)`` read in the warehouse time zone; per line
``quantity x unit price - discount - quantity x unit cost``, the product's current price / cost
standing in for a missing one. ``as_of_date`` is the date part of the run's ``as_of``, as dbt reads
its ``as_of`` var.
"""

from __future__ import annotations

import great_expectations as gx
import great_expectations.expectations as gxe

from onetoone.stages.quality.spec import TableSuite, critical

VALUE_TIERS = ["MVC", "MGC", "BZ", "other", "prospect"]
VALUE_WINDOW_MONTHS = 12  # = dbt var value_window_months
WAREHOUSE_TIMEZONE = "UTC"  # = dbt var warehouse_timezone
MARGIN_TOLERANCE = 0.005  # relative: 0.5 % of the ERP total ...
MARGIN_TOLERANCE_ABSOLUTE = 1.00  # ... plus one currency unit for per-customer rounding

PARAMETER_QUERIES = (
    "select count(distinct customer_key)::bigint as identity_customers from identity.customer_keys",
    f"""
    with orders as (
        select distinct on (order_id) order_id, customer_id, ordered_at, lower(status) as status
        from raw.erp_orders
        where order_id is not null
        order by order_id, updated_at desc nulls last, _batch_id desc
    ), lines as (
        select distinct on (order_id, line_number)
               order_id, product_id, quantity, unit_price, unit_cost,
               coalesce(discount, 0) as discount
        from raw.erp_order_lines
        where order_id is not null and line_number is not null
        order by order_id, line_number, updated_at desc nulls last, _batch_id desc
    ), products as (
        select distinct on (product_id) product_id, unit_price, unit_cost
        from raw.erp_products
        where product_id is not null
        order by product_id, updated_at desc nulls last, _batch_id desc
    ), margin as (
        select coalesce(sum(
                   coalesce(l.quantity * coalesce(l.unit_price, p.unit_price), 0) - l.discount
                   - coalesce(l.quantity * coalesce(l.unit_cost, p.unit_cost), 0)
               ), 0)::float8 as total
        from lines l
        join orders o on o.order_id = l.order_id
        left join products p on p.product_id = l.product_id
        where o.status = 'completed'
          and o.ordered_at >= (%(as_of_date)s::date - interval '{VALUE_WINDOW_MONTHS} months')
                              ::timestamp at time zone '{WAREHOUSE_TIMEZONE}'
          and o.ordered_at < %(as_of_date)s::date::timestamp at time zone '{WAREHOUSE_TIMEZONE}'
          and exists (select 1 from identity.customer_keys k
                      where k.source = 'erp' and k.source_record_id = o.customer_id)
    )
    select total - abs(total) * {MARGIN_TOLERANCE} - {MARGIN_TOLERANCE_ABSOLUTE}
               as erp_gross_margin_low,
           total + abs(total) * {MARGIN_TOLERANCE} + {MARGIN_TOLERANCE_ABSOLUTE}
               as erp_gross_margin_high
    from margin
    """,
)

DIM_CUSTOMERS = TableSuite(
    table="marts_build.dim_customers",
    suite=gx.ExpectationSuite(
        name="marts.dim_customers",
        expectations=[
            gxe.ExpectTableRowCountToEqual(
                value={"$PARAMETER": "identity_customers"},
                meta=critical(
                    "one row per resolved customer: the dimension must cover exactly the"
                    " customer keys the identity layer produced"
                ),
            ),
        ],
    ),
)

MART_CUSTOMER_VALUE = TableSuite(
    table="marts_build.mart_customer_value",
    suite=gx.ExpectationSuite(
        name="marts.mart_customer_value",
        expectations=[
            gxe.ExpectColumnValuesToBeInSet(
                column="value_tier",
                value_set=VALUE_TIERS,
                meta=critical(
                    "campaigns select on the value tiers; an unknown tier reaches nobody"
                ),
            ),
            gxe.ExpectColumnValuesToBeBetween(
                column="quintile",
                min_value=1,
                max_value=5,
                meta=critical("value quintiles are numbered 1 to 5"),
            ),
            gxe.ExpectColumnSumToBeBetween(
                column="trailing_margin",
                min_value={"$PARAMETER": "erp_gross_margin_low"},
                max_value={"$PARAMETER": "erp_gross_margin_high"},
                meta=critical(
                    "total trailing gross margin must reconcile with the ERP order lines within"
                    f" {MARGIN_TOLERANCE:.1%} + {MARGIN_TOLERANCE_ABSOLUTE:.2f}: tiers rank"
                    " customers on it, so a lost or doubled order misranks them"
                ),
            ),
        ],
    ),
)

MART_PORTFOLIOS = TableSuite(
    table="marts_build.mart_portfolios",
    suite=gx.ExpectationSuite(
        name="marts.mart_portfolios",
        expectations=[
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select p.customer_key, p.portfolio_id, p.value_tier,"
                    " v.value_tier as customer_value_tier from {batch} p"
                    " left join marts_build.mart_customer_value v"
                    " on v.customer_key = p.customer_key"
                    " where p.value_tier is distinct from v.value_tier"
                    " or not coalesce(starts_with(p.portfolio_id,"
                    " p.value_tier || '|' || p.primary_need || '|'), false)"
                ),
                meta=critical(
                    "a portfolio is a book or the pooled portfolio of one value tier x primary"
                    " need: a customer filed under another tier than their value gets the wrong"
                    " treatment and manager"
                ),
            ),
        ],
    ),
)

DIM_HOUSEHOLDS = TableSuite(
    table="marts_build.dim_households",
    suite=gx.ExpectationSuite(
        name="marts.dim_households",
        expectations=[
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    "select coalesce(h.household_key, c.household_key) as household_key,"
                    " h.members, c.members as customers from {batch} h"
                    " full join (select d.household_key, count(*) as members,"
                    " coalesce(sum(v.actual_value), 0) as actual_value,"
                    " coalesce(sum(v.strategic_value), 0) as strategic_value"
                    " from marts_build.dim_customers d"
                    " left join marts_build.mart_customer_value v"
                    " on v.customer_key = d.customer_key"
                    " where d.household_key is not null group by d.household_key) c"
                    " on c.household_key = h.household_key"
                    " where h.members is distinct from c.members"
                    " or h.household_actual_value is distinct from c.actual_value"
                    " or h.household_strategic_value is distinct from c.strategic_value"
                ),
                meta=critical(
                    "a household is its members: every household_key of dim_customers has one"
                    " household whose member count and actual and strategic value are its"
                    " customers' own, or household value double-counts or loses customers"
                ),
            ),
            gxe.ExpectColumnValuesToBeInSet(
                column="best_value_tier",
                value_set=VALUE_TIERS,
                meta=critical("a household's best tier is one of the customers' value tiers"),
            ),
        ],
    ),
)

SUITES = [DIM_CUSTOMERS, MART_CUSTOMER_VALUE, MART_PORTFOLIOS, DIM_HOUSEHOLDS]
