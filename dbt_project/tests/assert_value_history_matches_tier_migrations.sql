-- mart_customer_value_history and mart_tier_migrations read the same snapshot: the history's
-- tier changes, counted per date and move, are the migrations.

with

history_moves as (

    select
        as_of_date,
        coalesce(previous_value_tier, 'new') as from_value_tier,
        value_tier as to_value_tier,
        count(*) as customers

    from {{ ref('mart_customer_value_history') }}
    where is_tier_change
    group by as_of_date, coalesce(previous_value_tier, 'new'), value_tier

),

migrations as (

    select
        migrated_at::date as as_of_date,
        from_value_tier,
        to_value_tier,
        customers

    from {{ ref('mart_tier_migrations') }}

)

select
    coalesce(history_moves.as_of_date, migrations.as_of_date) as as_of_date,
    coalesce(history_moves.from_value_tier, migrations.from_value_tier) as from_value_tier,
    coalesce(history_moves.to_value_tier, migrations.to_value_tier) as to_value_tier,
    history_moves.customers as history_customers,
    migrations.customers as migration_customers

from history_moves
full outer join migrations
    on history_moves.as_of_date = migrations.as_of_date
    and history_moves.from_value_tier = migrations.from_value_tier
    and history_moves.to_value_tier = migrations.to_value_tier
where history_moves.customers is distinct from migrations.customers
