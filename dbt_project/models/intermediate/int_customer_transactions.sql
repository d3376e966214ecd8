-- One row per completed order before as_of, keyed by customer: the input of the strategic value
-- model (BG/NBD purchases and Gamma-Gamma spend), which the pipeline's value step fits.
{{ config(tags=['identity']) }}

with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}

),

final as (

    select
        customer_keys.customer_key,
        orders.order_id,
        (orders.ordered_at at time zone '{{ var("warehouse_timezone") }}')::date as order_date,
        orders.net_revenue as amount

    from orders
    inner join customer_keys
        on customer_keys.source = 'erp'
        and customer_keys.source_record_id = orders.customer_id
    where orders.is_completed
        and orders.net_revenue >= 0
        and orders.ordered_at < {{ as_of_timestamp() }}

)

select * from final
