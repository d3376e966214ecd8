with

source as (

    select * from {{ source('raw', 'erp_orders') }}

),

renamed as (

    -- Several versions of an order may have been extracted (e.g. completed, then returned):
    -- keep the latest.
    select distinct on (order_id)
        order_id,
        customer_id,
        ordered_at,
        lower(channel) as channel,
        lower(status) as status,
        updated_at,
        _extracted_at as extracted_at,
        _batch_id as load_batch_id,
        _loaded_at as loaded_at

    from source
    where order_id is not null
    order by order_id, updated_at desc nulls last, _batch_id desc

)

select * from renamed
