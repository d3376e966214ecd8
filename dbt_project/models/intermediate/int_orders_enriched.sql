-- One row per order: the header with its lines' totals and whether a web coupon was redeemed on it.
--
-- Incremental: a daily run rebuilds only the orders whose header, one of whose lines
-- (int_order_lines_enriched) or a coupon redemption naming them was loaded after the latest load
-- this table has seen (loaded_at), from all their lines and coupons, and merges them in by
-- order_id. The ERP deletes nothing and an order holds nothing personal, so no row ever has to
-- leave. After a change to this model's logic, rebuild it: dbt build --full-refresh -s <model>.
{{ config(materialized='incremental', unique_key='order_id', on_schema_change='fail') }}

with

orders as (

    select * from {{ ref('stg_erp__orders') }}

),

order_lines as (

    select * from {{ ref('int_order_lines_enriched') }}

),

coupon_redemptions as (

    select * from {{ ref('stg_web__events') }}
    where event_type = 'coupon_redemption' and coupon_order_id is not null

),

{% if is_incremental() %}
{#- The latest raw load this table has seen: what was loaded after it has changed. #}
already_loaded as (

    select coalesce(max(loaded_at), '-infinity') as loaded_at from {{ this }}

),

changed_orders as (

    select order_id from orders
    where loaded_at > (select loaded_at from already_loaded)
    union
    select order_id from order_lines
    where loaded_at > (select loaded_at from already_loaded)
    union
    select coupon_order_id from coupon_redemptions
    where loaded_at > (select loaded_at from already_loaded)

),

{% endif %}
line_totals as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity) as items,
        sum(gross_revenue) as gross_revenue,
        sum(discount) as discount,
        sum(net_revenue) as net_revenue,
        sum(cost) as cost,
        sum(gross_margin) as gross_margin,
        bool_or(not has_known_product) as has_unknown_product,
        max(loaded_at) as loaded_at

    from order_lines
    {% if is_incremental() %}
    where order_id in (select order_id from changed_orders)
    {% endif %}
    group by order_id

),

coupons as (

    select
        coupon_order_id as order_id,
        min(coupon_code) as coupon_code,
        count(*) as coupon_redemption_count,
        max(loaded_at) as loaded_at

    from coupon_redemptions
    {% if is_incremental() %}
    where coupon_order_id in (select order_id from changed_orders)
    {% endif %}
    group by coupon_order_id

),

final as (

    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_at,
        orders.channel,
        orders.status,
        orders.status = 'completed' as is_completed,
        orders.status = 'returned' as is_returned,
        orders.status = 'cancelled' as is_cancelled,
        coalesce(line_totals.line_count, 0) as line_count,
        coalesce(line_totals.items, 0) as items,
        coalesce(line_totals.gross_revenue, 0) as gross_revenue,
        coalesce(line_totals.discount, 0) as discount,
        coalesce(line_totals.net_revenue, 0) as net_revenue,
        coalesce(line_totals.cost, 0) as cost,
        coalesce(line_totals.gross_margin, 0) as gross_margin,
        coalesce(line_totals.has_unknown_product, false) as has_unknown_product,
        coupons.order_id is not null as has_coupon,
        coupons.coupon_code,
        orders.updated_at,
        greatest(orders.loaded_at, line_totals.loaded_at, coupons.loaded_at) as loaded_at

    from orders
    left join line_totals
        on orders.order_id = line_totals.order_id
    left join coupons
        on orders.order_id = coupons.order_id
    {% if is_incremental() %}
    where orders.order_id in (select order_id from changed_orders)
    {% endif %}

)

select * from final
