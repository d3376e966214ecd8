with

source as (

    select * from {{ source('raw', 'erp_products') }}

),

renamed as (

    -- Several versions of a product may have been extracted: keep the latest.
    select distinct on (product_id)
        product_id,
        product_name,
        category,
        unit_cost,
        unit_price,
        updated_at,
        _extracted_at as extracted_at,
        _batch_id as load_batch_id,
        _loaded_at as loaded_at

    from source
    where product_id is not null
    order by product_id, updated_at desc nulls last, _batch_id desc

)

select * from renamed
