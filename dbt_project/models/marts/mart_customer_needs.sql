-- One row per customer: their needs, from what they buy, what they browse and why they call.
-- Method (reproducible, documented in _marts__docs.md):
--   need_score(category) = needs_spend_weight x share of the customer's net revenue in that
--                          category (completed orders before as_of)
--                        + needs_browse_weight x share of their page views in that category
--   primary_need         the category with the highest score (ties: category name), or
--                        `unknown` when the customer neither bought nor browsed
--   service_need         the most frequent reason of their calls (ties: reason), or `none`
--   need_segment         primary_need: one segment per customer

with

customers as (

    select * from {{ ref('dim_customers') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

window_bounds as (

    select
        {{ as_of_date() }} as as_of_date,
        {{ as_of_timestamp() }} as window_end_at

),

spend as (

    select
        order_lines.customer_key,
        order_lines.category,
        sum(order_lines.net_revenue) as net_revenue

    from order_lines
    cross join window_bounds
    where order_lines.customer_key is not null
        and order_lines.order_status = 'completed'
        and order_lines.has_known_product
        and order_lines.ordered_at < window_bounds.window_end_at
    group by order_lines.customer_key, order_lines.category
    having sum(order_lines.net_revenue) > 0

),

browsing as (

    select
        interactions.customer_key,
        interactions.page_category as category,
        count(*) as page_views

    from interactions
    cross join window_bounds
    where interactions.interaction_type = 'page_view'
        and interactions.page_category is not null
        and interactions.interaction_at < window_bounds.window_end_at
    group by interactions.customer_key, interactions.page_category

),

shares as (

    select
        coalesce(spend.customer_key, browsing.customer_key) as customer_key,
        coalesce(spend.category, browsing.category) as category,
        coalesce(spend.net_revenue / sum(spend.net_revenue) over (
            partition by coalesce(spend.customer_key, browsing.customer_key)), 0) as spend_share,
        coalesce(browsing.page_views::numeric / sum(browsing.page_views) over (
            partition by coalesce(spend.customer_key, browsing.customer_key)), 0) as browse_share

    from spend
    full outer join browsing
        on spend.customer_key = browsing.customer_key
        and spend.category = browsing.category

),

scored as (

    select
        customer_key,
        category,
        spend_share,
        browse_share,
        {{ var('needs_spend_weight') }} * spend_share
            + {{ var('needs_browse_weight') }} * browse_share as need_score,
        row_number() over (
            partition by customer_key
            order by {{ var('needs_spend_weight') }} * spend_share
                + {{ var('needs_browse_weight') }} * browse_share desc, category
        ) as need_rank

    from shares

),

call_reasons as (

    select
        interactions.customer_key,
        interactions.call_reason,
        row_number() over (
            partition by interactions.customer_key
            order by count(*) desc, interactions.call_reason
        ) as reason_rank

    from interactions
    cross join window_bounds
    where interactions.interaction_type = 'call'
        and interactions.call_reason is not null
        and interactions.interaction_at < window_bounds.window_end_at
    group by interactions.customer_key, interactions.call_reason

),

final as (

    select
        customers.customer_key,
        window_bounds.as_of_date,
        top_need.category as primary_need,
        round(coalesce(top_need.need_score, 0), 4) as primary_need_score,
        round(coalesce(top_need.spend_share, 0), 4) as primary_need_spend_share,
        round(coalesce(top_need.browse_share, 0), 4) as primary_need_browse_share,
        top_reason.call_reason as service_need,
        coalesce(top_need.category, 'unknown') as need_segment

    from customers
    cross join window_bounds
    left join scored as top_need
        on customers.customer_key = top_need.customer_key
        and top_need.need_rank = 1
    left join call_reasons as top_reason
        on customers.customer_key = top_reason.customer_key
        and top_reason.reason_rank = 1

)

select * from final
