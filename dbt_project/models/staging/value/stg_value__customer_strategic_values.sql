with

source as (

    select * from {{ source('value', 'customer_strategic_values') }}

),

renamed as (

    select
        customer_key,
        as_of_date,
        expected_purchases_12m,
        expected_revenue_12m,
        probability_alive,
        clv,
        model_run_id

    from source

)

select * from renamed
