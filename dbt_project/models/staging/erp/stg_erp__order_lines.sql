with

source as (

    select * from {{ source('raw', 'erp_order_lines') }}

),

renamed as (

    -- Several versions of an order line may have been extracted: keep the latest.
    select distinct on (order_id, line_number)
        order_id || '-' || line_number::text as order_line_id,
        order_id,
        line_number,
        product_id,
        quantity,
        unit_price,
        unit_cost,
        coalesce(discount, 0) as discount,
        updated_at,
        _extracted_at as extracted_at,
        _batch_id as load_batch_id,
        _loaded_at as loaded_at

    from source
    where order_id is not null and line_number is not null
    order by order_id, line_number, updated_at desc nulls last, _batch_id desc

)

select * from renamed
