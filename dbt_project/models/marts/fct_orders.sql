-- One row per ERP order placed before as_of, keyed to the customer by identity resolution.

with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}
    where source = 'erp'

),

final as (

    select
        orders.order_id,
        customer_keys.customer_key,
        orders.customer_id,
        orders.ordered_at,
        orders.channel,
        orders.status,
        orders.is_completed,
        orders.is_returned,
        orders.is_cancelled,
        orders.line_count,
        orders.items,
        orders.gross_revenue,
        orders.discount,
        orders.net_revenue,
        orders.cost,
        orders.gross_margin,
        orders.has_coupon,
        orders.coupon_code,
        orders.has_unknown_product

    from orders
    left join customer_keys
        on orders.customer_id = customer_keys.source_record_id
    where orders.ordered_at < {{ as_of_timestamp() }}

)

select * from final
