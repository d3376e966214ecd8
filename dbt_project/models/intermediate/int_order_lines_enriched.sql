-- One row per order line with its order header and product: category, effective unit price and
-- cost (the line's own, else the product's current one) and the line's amounts.
-- Lines whose order header is unknown are dropped (the staging relationship test warns).
--
-- Incremental: a daily run rebuilds only the lines whose own row, order header or product was
-- loaded into raw after the latest load this table has seen (loaded_at), and merges them in by
-- order_line_id. The ERP deletes nothing and the lines hold nothing personal, so no row ever has
-- to leave. After a change to this model's logic, rebuild it: dbt build --full-refresh -s <model>.
{{ config(materialized='incremental', unique_key='order_line_id', on_schema_change='fail') }}

with

order_lines as (

    select * from {{ ref('stg_erp__order_lines') }}

),

orders as (

    select * from {{ ref('stg_erp__orders') }}

),

products as (

    select * from {{ ref('stg_erp__products') }}

),

joined as (

    select
        order_lines.order_line_id,
        order_lines.order_id,
        order_lines.line_number,
        orders.customer_id,
        orders.ordered_at,
        orders.channel as order_channel,
        orders.status as order_status,
        order_lines.product_id,
        products.product_name,
        coalesce(products.category, 'unknown') as category,
        products.product_id is not null as has_known_product,
        order_lines.quantity,
        coalesce(order_lines.unit_price, products.unit_price) as unit_price,
        coalesce(order_lines.unit_cost, products.unit_cost) as unit_cost,
        order_lines.discount,
        -- greatest() ignores nulls: a line of an unknown product has no product load time.
        greatest(order_lines.loaded_at, orders.loaded_at, products.loaded_at) as loaded_at

    from order_lines
    inner join orders
        on order_lines.order_id = orders.order_id
    left join products
        on order_lines.product_id = products.product_id

),

final as (

    select
        order_line_id,
        order_id,
        line_number,
        customer_id,
        ordered_at,
        order_channel,
        order_status,
        product_id,
        product_name,
        category,
        has_known_product,
        quantity,
        unit_price,
        unit_cost,
        discount,
        coalesce(quantity * unit_price, 0) as gross_revenue,
        coalesce(quantity * unit_price, 0) - discount as net_revenue,
        coalesce(quantity * unit_cost, 0) as cost,
        coalesce(quantity * unit_price, 0) - discount - coalesce(quantity * unit_cost, 0)
            as gross_margin,
        loaded_at

    from joined

)

select * from final
{% if is_incremental() %}
where loaded_at > (select coalesce(max(loaded_at), '-infinity') from {{ this }})
{% endif %}
