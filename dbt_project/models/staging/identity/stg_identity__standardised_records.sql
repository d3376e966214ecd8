with

source as (

    select * from {{ source('identity', 'standardised_records') }}

),

renamed as (

    select
        source || ':' || source_record_id as customer_record_id,
        source,
        source_record_id,
        first_name,
        last_name,
        birth_date,
        email,
        phone,
        city,
        postcode,
        national_id,
        address,
        surname_1,
        surname_2

    from source

)

select * from renamed
