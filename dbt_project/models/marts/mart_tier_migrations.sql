{{ config(tags=["after_audit"]) }}

-- One row per snapshot period and tier move: how many customers moved from one value tier to
-- another when the customer value was taken on `migrated_at` (the as_of of that run). A
-- customer's first snapshot is a move from `new`. Only moves recorded up to this run's as_of
-- count, so rebuilding an old run gives the same result.

with

tier_history as (

    select * from {{ ref('snap_customer_value_tiers') }}

),

versions as (

    select
        customer_key,
        value_tier,
        actual_value,
        dbt_valid_from as valid_from_at,
        lag(value_tier) over (partition by customer_key order by dbt_valid_from) as previous_tier

    from tier_history
    where dbt_valid_from <= {{ as_of_date() }}::timestamp

),

moves as (

    select
        valid_from_at as migrated_at,
        coalesce(previous_tier, 'new') as from_value_tier,
        value_tier as to_value_tier,
        actual_value

    from versions
    -- A new version whose tier is unchanged only moved quintile.
    where previous_tier is distinct from value_tier

),

final as (

    select
        migrated_at,
        from_value_tier,
        to_value_tier,
        count(*) as customers,
        sum(actual_value) as actual_value_total

    from moves
    group by migrated_at, from_value_tier, to_value_tier

)

select * from final
