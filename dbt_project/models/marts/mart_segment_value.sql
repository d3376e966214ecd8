-- One row per needs segment x value tier: how many customers, and what they are worth now
-- (actual value) and over the relationship still to come (strategic value).
--   customers               customers of the segment and tier
--   customers_with_value    of them, those with a strategic value (has_strategic_value)
--   strategic_value_total   sum of strategic_value (mart_customer_value: the value step's clv,
--                           revenue expected over 36 months discounted at 10% a year, x the
--                           customer's margin rate over the trailing `value_window_months`)
--   strategic_value_avg     strategic_value_total / customers_with_value (null when none), so
--                           customers without a value do not pull the average down
--   actual_value_total/avg  sum and average of actual_value over all the customers

with

customer_value as (

    select * from {{ ref('mart_customer_value') }}

),

needs as (

    select * from {{ ref('mart_customer_needs') }}

),

customer_segments as (

    select
        needs.need_segment,
        customer_value.value_tier,
        customer_value.as_of_date,
        customer_value.has_strategic_value,
        customer_value.strategic_value,
        customer_value.actual_value

    from customer_value
    inner join needs
        on customer_value.customer_key = needs.customer_key

),

final as (

    select
        need_segment,
        value_tier,
        as_of_date,
        count(*) as customers,
        count(*) filter (where has_strategic_value) as customers_with_value,
        sum(strategic_value) as strategic_value_total,
        round(
            sum(strategic_value) filter (where has_strategic_value)
            / nullif(count(*) filter (where has_strategic_value), 0),
            2
        ) as strategic_value_avg,
        sum(actual_value) as actual_value_total,
        round(avg(actual_value), 2) as actual_value_avg

    from customer_segments
    group by need_segment, value_tier, as_of_date

)

select * from final
