with

source as (

    select * from {{ source('audit', 'validation_runs') }}

),

renamed as (

    select
        run_id,
        layer,
        suite,
        data_asset,
        case
            when layer = 'raw' then split_part(split_part(data_asset, '.', 2), '_', 1)
            else layer
        end as source,
        as_of,
        started_at,
        rows_checked,
        verdict,
        evaluated,
        successful,
        critical_failed,
        warning_failed

    from source

)

select * from renamed
