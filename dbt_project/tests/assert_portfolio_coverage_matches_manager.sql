-- A key-account book is looked after by a key-account manager (a person), and a pooled
-- portfolio by the pooled team its tier names in the seed service_levels.

with

portfolio_members as (

    select * from {{ ref('mart_portfolios') }}

),

managers as (

    select * from {{ ref('account_managers') }}

),

service_levels as (

    select * from {{ ref('service_levels') }}

)

select distinct
    portfolio_members.portfolio_id,
    portfolio_members.coverage,
    portfolio_members.manager_id,
    managers.coverage as manager_coverage,
    service_levels.pooled_manager_id as tier_pooled_manager_id

from portfolio_members
left join managers
    on portfolio_members.manager_id = managers.manager_id
left join service_levels
    on portfolio_members.value_tier = service_levels.value_tier
where managers.coverage is distinct from portfolio_members.coverage
    or (
        portfolio_members.coverage = 'pooled'
        and portfolio_members.manager_id is distinct from service_levels.pooled_manager_id
    )
