-- One row per customer: the customer's portfolio and its account manager.
--
-- Portfolio = value tier x needs segment (portfolio_id `<tier>|<need>`), the segment being the
-- customer's primary need from mart_customer_needs (spend and browsing shares per category).
--
-- Assignment of portfolios to managers (deterministic, whole portfolios, never over capacity):
-- portfolios are taken largest first (then MVC, MGC, other, BZ, then portfolio_id); each goes to the
-- active manager with the most remaining capacity that can still take all of its customers
-- (ties: manager_id). This "worst fit decreasing" spreads the load. A portfolio that fits no
-- manager is left without one, and the tests fail: add managers or capacity in the seed.

with recursive

customer_value as (

    select * from {{ ref('mart_customer_value') }}

),

needs as (

    select * from {{ ref('mart_customer_needs') }}

),

managers as (

    select
        manager_id,
        manager_name,
        capacity,
        row_number() over (order by manager_id) as manager_index

    from {{ ref('account_managers') }}
    where is_active

),

members as (

    select
        customer_value.customer_key,
        customer_value.value_tier,
        needs.need_segment as primary_need,
        needs.primary_need_spend_share,
        customer_value.actual_value,
        customer_value.as_of_date

    from customer_value
    inner join needs
        on customer_value.customer_key = needs.customer_key

),

portfolios as (

    select
        value_tier || '|' || primary_need as portfolio_id,
        value_tier,
        primary_need,
        count(*) as customer_count,
        row_number() over (
            order by
                count(*) desc,
                case value_tier when 'MVC' then 1 when 'MGC' then 2 when 'other' then 3 else 4 end,
                value_tier || '|' || primary_need
        ) as assignment_order

    from members
    group by value_tier, primary_need

),

assignments (assignment_order, manager_index, remaining_capacity) as (

    select
        0::bigint,
        null::bigint,
        coalesce(
            (select array_agg(capacity::bigint order by manager_index) from managers),
            array[]::bigint[]
        )

    union all

    select
        portfolios.assignment_order,
        chosen.manager_index,
        case
            when chosen.manager_index is null then assignments.remaining_capacity
            else array(
                select
                    case
                        when slot.manager_index = chosen.manager_index
                            then slot.remaining - portfolios.customer_count
                        else slot.remaining
                    end
                from unnest(assignments.remaining_capacity)
                    with ordinality as slot (remaining, manager_index)
                order by slot.manager_index
            )
        end

    from assignments
    inner join portfolios
        on portfolios.assignment_order = assignments.assignment_order + 1
    left join lateral (
        select slot.manager_index
        from unnest(assignments.remaining_capacity)
            with ordinality as slot (remaining, manager_index)
        where slot.remaining >= portfolios.customer_count
        order by slot.remaining desc, slot.manager_index
        limit 1
    ) as chosen on true

),

portfolio_managers as (

    select
        portfolios.portfolio_id,
        managers.manager_id,
        managers.manager_name

    from portfolios
    inner join assignments
        on portfolios.assignment_order = assignments.assignment_order
    left join managers
        on assignments.manager_index = managers.manager_index

),

final as (

    select
        members.customer_key,
        members.value_tier || '|' || members.primary_need as portfolio_id,
        members.value_tier,
        members.primary_need,
        members.primary_need_spend_share,
        portfolio_managers.manager_id,
        portfolio_managers.manager_name,
        members.actual_value,
        members.as_of_date

    from members
    left join portfolio_managers
        on members.value_tier || '|' || members.primary_need = portfolio_managers.portfolio_id

)

select * from final
