with

source as (

    select * from {{ source('identity', 'customer_keys') }}

),

renamed as (

    select
        source || ':' || source_record_id as customer_record_id,
        source,
        source_record_id,
        customer_key,
        cluster_size,
        model_version,
        assigned_at

    from source

)

select * from renamed
