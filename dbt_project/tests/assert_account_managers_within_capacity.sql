-- No account manager or pooled team looks after more customers than its capacity (seed
-- account_managers; an empty capacity is a pooled team that scales with demand), and only
-- active ones have customers.

with

managers as (

    select * from {{ ref('account_managers') }}

),

portfolio_members as (

    select * from {{ ref('mart_portfolios') }}

),

manager_load as (

    select
        manager_id,
        count(*) as customers

    from portfolio_members
    where manager_id is not null
    group by manager_id

)

select
    manager_load.manager_id,
    manager_load.customers,
    managers.capacity,
    managers.is_active

from manager_load
left join managers
    on manager_load.manager_id = managers.manager_id
where managers.manager_id is null
    or not managers.is_active
    or (managers.capacity is not null and manager_load.customers > managers.capacity)
