-- mart_segment_value adds up to mart_customer_value: no customer is lost or counted twice by
-- the join to the needs segments, and the value totals are the customers' own.

with

segment_totals as (

    select
        sum(customers) as customers,
        sum(customers_with_value) as customers_with_value,
        sum(strategic_value_total) as strategic_value_total,
        sum(actual_value_total) as actual_value_total

    from {{ ref('mart_segment_value') }}

),

customer_totals as (

    select
        count(*) as customers,
        count(*) filter (where has_strategic_value) as customers_with_value,
        sum(strategic_value) as strategic_value_total,
        sum(actual_value) as actual_value_total

    from {{ ref('mart_customer_value') }}

)

select
    segment_totals.*,
    customer_totals.customers as expected_customers

from segment_totals
cross join customer_totals
where segment_totals.customers is distinct from customer_totals.customers
    or segment_totals.customers_with_value is distinct from customer_totals.customers_with_value
    or segment_totals.strategic_value_total is distinct from customer_totals.strategic_value_total
    or segment_totals.actual_value_total is distinct from customer_totals.actual_value_total
