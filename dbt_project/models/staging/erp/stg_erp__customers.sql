with

source as (

    select * from {{ source('raw', 'erp_customers') }}

),

renamed as (

    -- Several versions of a customer may have been extracted: keep the latest.
    select distinct on (customer_id)
        customer_id,
        first_name,
        last_name,
        tax_id,
        email,
        phone,
        address_line,
        city,
        region,
        postcode,
        upper(country) as country,
        birth_date,
        created_at,
        updated_at,
        _extracted_at as extracted_at,
        _batch_id as load_batch_id

    from source
    where customer_id is not null
    order by customer_id, updated_at desc nulls last, _batch_id desc

)

select * from renamed
