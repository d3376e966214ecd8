-- One row per ERP order line of an order placed before as_of, keyed to the customer.

with

order_lines as (

    select * from {{ ref('int_order_lines_enriched') }}

),

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}
    where source = 'erp'

),

final as (

    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.line_number,
        customer_keys.customer_key,
        order_lines.customer_id,
        order_lines.ordered_at,
        order_lines.order_channel,
        order_lines.order_status,
        order_lines.product_id,
        order_lines.product_name,
        order_lines.category,
        order_lines.has_known_product,
        order_lines.quantity,
        order_lines.unit_price,
        order_lines.unit_cost,
        order_lines.discount,
        order_lines.gross_revenue,
        order_lines.net_revenue,
        order_lines.cost,
        order_lines.gross_margin

    from order_lines
    left join customer_keys
        on order_lines.customer_id = customer_keys.source_record_id
    where order_lines.ordered_at < {{ as_of_timestamp() }}

)

select * from final
