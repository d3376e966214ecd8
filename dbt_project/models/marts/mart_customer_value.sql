-- One row per customer: actual value over the trailing window before as_of (default 12 months)
-- and the value tier.
--   trailing_margin   completed orders: sum over lines of quantity x (price - cost) - discount
--   cost_to_serve     call minutes x call rate + returned orders x return rate (the return fee)
--                     + coupon redemptions x web support rate   (rates: seed cost_to_serve_rates)
--   actual_value      trailing_margin - cost_to_serve
--   strategic_value   clv (discounted expected revenue over 36 months, from the value step's
--                     model: the one its backtest chose, with Gamma-Gamma spend) x the customer's
--                     margin rate (trailing margin /
--                     net revenue; the population's rate when the customer has no trailing
--                     revenue): the margin the relationship may still bring.
--   growth_gap        strategic_value - actual_value
--   probability_alive the value step's probability that the customer is still active; null for
--                     customers it did not score (no completed order before as_of).
--   churn_risk        1 - probability_alive, null where that is null: no purchase relationship
--                     to lose. One-time buyers get a real risk (the value step takes P(alive) from
--                     a model that lets them drop out), not 0.
--   is_high_churn_risk  churn_risk >= var high_churn_risk_threshold (false when null)
--   has_purchased     the customer has a completed order before as_of (at any time)
--   value_tier        prospect: no completed order ever (a caller or web visitor who has not
--                     bought: not a customer losing money, so never BZ);
--                     MVC: best `mvc_top_share` of customers by actual value (ties share a rank,
--                     so a tie at the threshold keeps them all), positive value only;
--                     BZ (below zero): actual value < 0;
--                     MGC (most growable): of the rest, the `mgc_top_share` of customers with the
--                     largest positive growth gap; other: the rest.
--   quintile          1-5 by lifetime (strategic) value among the customers who have one
--                     (strategic_value > 0), 5 = best (ties broken by customer_key); null for the
--                     others (has_strategic_value false), so zeros never fill the low quintiles.

with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

rates as (

    select * from {{ ref('cost_to_serve_rates') }}

),

strategic_values as (

    select * from {{ ref('stg_value__customer_strategic_values') }}

),

window_bounds as (

    select
        {{ as_of_date() }} as as_of_date,
        {{ value_window_start_timestamp() }} as window_start_at,
        {{ as_of_timestamp() }} as window_end_at,
        -- The snapshot's version timestamp: the business date, without a time zone like dbt's own
        -- snapshot columns.
        {{ as_of_date() }}::timestamp as valued_at

),

rate_values as (

    select
        max(rate_value) filter (where rate_name = 'call_cost_per_minute') as call_cost_per_minute,
        max(rate_value) filter (where rate_name = 'return_cost_per_return') as return_cost_per_return,
        max(rate_value) filter (where rate_name = 'coupon_redemption_cost') as coupon_redemption_cost

    from rates

),

order_value as (

    select
        orders.customer_key,
        count(*) filter (where orders.is_completed) as completed_orders,
        sum(orders.net_revenue) filter (where orders.is_completed) as net_revenue,
        sum(orders.gross_margin) filter (where orders.is_completed) as trailing_margin,
        count(*) filter (where orders.is_returned) as returned_orders

    from orders
    cross join window_bounds
    where orders.customer_key is not null
        and orders.ordered_at >= window_bounds.window_start_at
        and orders.ordered_at < window_bounds.window_end_at
    group by orders.customer_key

),

purchasers as (

    select distinct orders.customer_key

    from orders
    cross join window_bounds
    where orders.customer_key is not null
        and orders.is_completed
        and orders.ordered_at < window_bounds.window_end_at

),

service_usage as (

    select
        interactions.customer_key,
        count(*) filter (where interactions.interaction_type = 'call') as calls,
        coalesce(sum(interactions.call_duration_seconds), 0) / 60.0 as call_minutes,
        count(*) filter (where interactions.interaction_type = 'coupon_redemption')
            as coupon_redemptions

    from interactions
    cross join window_bounds
    where interactions.interaction_at >= window_bounds.window_start_at
        and interactions.interaction_at < window_bounds.window_end_at
    group by interactions.customer_key

),

valued as (

    select
        customers.customer_key,
        window_bounds.as_of_date,
        window_bounds.valued_at,
        window_bounds.window_start_at,
        purchasers.customer_key is not null as has_purchased,
        coalesce(order_value.completed_orders, 0) as completed_orders,
        coalesce(order_value.returned_orders, 0) as returned_orders,
        coalesce(service_usage.calls, 0) as calls,
        round(coalesce(service_usage.call_minutes, 0), 2) as call_minutes,
        coalesce(service_usage.coupon_redemptions, 0) as coupon_redemptions,
        round(coalesce(order_value.net_revenue, 0), 2) as net_revenue,
        round(coalesce(order_value.trailing_margin, 0), 2) as trailing_margin,
        round(coalesce(service_usage.call_minutes, 0) * rate_values.call_cost_per_minute, 2)
            as call_cost,
        round(coalesce(order_value.returned_orders, 0) * rate_values.return_cost_per_return, 2)
            as return_cost,
        round(coalesce(service_usage.coupon_redemptions, 0) * rate_values.coupon_redemption_cost, 2)
            as web_support_cost

    from customers
    cross join window_bounds
    cross join rate_values
    left join order_value
        on customers.customer_key = order_value.customer_key
    left join service_usage
        on customers.customer_key = service_usage.customer_key
    left join purchasers
        on customers.customer_key = purchasers.customer_key

),

with_actual_value as (

    select
        *,
        call_cost + return_cost + web_support_cost as cost_to_serve,
        trailing_margin - (call_cost + return_cost + web_support_cost) as actual_value

    from valued

),

margin_rate as (

    -- The population's margin rate, for customers without trailing revenue of their own.
    select coalesce(sum(trailing_margin) / nullif(sum(net_revenue), 0), 0) as population_rate

    from with_actual_value

),

with_strategic_value as (

    select
        with_actual_value.*,
        strategic_values.probability_alive,
        round(1 - strategic_values.probability_alive, 4) as churn_risk,
        round(coalesce(strategic_values.expected_purchases_12m, 0), 4) as expected_purchases_12m,
        round(coalesce(strategic_values.clv, 0), 2) as clv,
        round(
            coalesce(strategic_values.clv, 0)
            * case
                when with_actual_value.net_revenue > 0
                    then with_actual_value.trailing_margin / with_actual_value.net_revenue
                else margin_rate.population_rate
            end,
            2
        ) as strategic_value

    from with_actual_value
    cross join margin_rate
    left join strategic_values
        on with_actual_value.customer_key = strategic_values.customer_key

),

ranked as (

    select
        *,
        strategic_value - actual_value as growth_gap,
        rank() over (order by actual_value desc) as value_rank,
        case
            when strategic_value > 0
                then ntile(5) over (
                    partition by strategic_value > 0 order by strategic_value, customer_key
                )
        end as quintile,
        strategic_value > 0 as has_strategic_value,
        count(*) over () as customer_count

    from with_strategic_value

),

tiered as (

    select
        *,
        case
            when not has_purchased then 'prospect'
            when actual_value < 0 then 'BZ'
            when actual_value > 0
                and value_rank <= ceil(customer_count * {{ var('mvc_top_share') }})
                then 'MVC'
        end as fixed_tier

    from ranked

),

growth_ranked as (

    select
        *,
        case
            when fixed_tier is null and growth_gap > 0
                then rank() over (
                    partition by fixed_tier is null and growth_gap > 0
                    order by growth_gap desc
                )
        end as growth_rank

    from tiered

),

final as (

    select
        customer_key,
        as_of_date,
        valued_at,
        window_start_at,
        has_purchased,
        completed_orders,
        returned_orders,
        calls,
        call_minutes,
        coupon_redemptions,
        net_revenue,
        trailing_margin,
        call_cost,
        return_cost,
        web_support_cost,
        cost_to_serve,
        actual_value,
        probability_alive,
        churn_risk,
        coalesce(churn_risk >= {{ var('high_churn_risk_threshold') }}, false)
            as is_high_churn_risk,
        expected_purchases_12m,
        clv,
        strategic_value,
        growth_gap,
        value_rank,
        quintile,
        has_strategic_value,
        case
            when fixed_tier is not null then fixed_tier
            when growth_rank <= ceil(customer_count * {{ var('mgc_top_share') }}) then 'MGC'
            else 'other'
        end as value_tier

    from growth_ranked

)

select * from final
