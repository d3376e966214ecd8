with

source as (

    select * from {{ source('audit', 'dbt_test_results') }}

),

renamed as (

    select
        run_id,
        unique_id as test_id,
        split_part(unique_id, '.', 3) as test_name,
        as_of,
        status,
        status <> 'skipped' as has_run,
        failures,
        completed_at

    from source

)

select * from renamed
