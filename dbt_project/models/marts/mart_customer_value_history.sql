{{ config(tags=["after_audit"]) }}

-- One row per customer x as_of date of the tier snapshot (snap_customer_value_tiers): each
-- version the snapshot took, i.e. each business date on which the customer's value tier or
-- quintile changed (the snapshot's check columns) or the customer first appeared, with the
-- tier and the value figures of that date, and the change since the customer's previous version.
-- Dates on which nothing it checks changed add no version, so they add no row here: the figures
-- of a row are those of its as_of_date, held until the next row (valid_to_date).
-- Only versions taken up to this run's as_of count, so rebuilding an old run gives its history.

with

tier_history as (

    select * from {{ ref('snap_customer_value_tiers') }}

),

versions as (

    select
        customer_key,
        dbt_valid_from::date as as_of_date,
        dbt_valid_to::date as valid_to_date,
        value_tier,
        quintile,
        actual_value,
        strategic_value,
        lag(dbt_valid_from::date) over customer_versions as previous_as_of_date,
        lag(value_tier) over customer_versions as previous_value_tier,
        lag(actual_value) over customer_versions as previous_actual_value,
        lag(strategic_value) over customer_versions as previous_strategic_value

    from tier_history
    where dbt_valid_from <= {{ as_of_date() }}::timestamp
    window customer_versions as (partition by customer_key order by dbt_valid_from)

),

final as (

    select
        customer_key,
        as_of_date,
        -- A version closed after this run's as_of was still open on it.
        case when valid_to_date <= {{ as_of_date() }} then valid_to_date end as valid_to_date,
        value_tier,
        quintile,
        actual_value,
        strategic_value,
        previous_as_of_date,
        previous_value_tier,
        previous_value_tier is distinct from value_tier as is_tier_change,
        actual_value - previous_actual_value as actual_value_change,
        strategic_value - previous_strategic_value as strategic_value_change

    from versions

)

select * from final
