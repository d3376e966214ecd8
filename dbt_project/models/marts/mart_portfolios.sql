-- One row per customer: the customer's portfolio and its account manager.
--
-- Portfolio = value tier x primary need (portfolio_id `<tier>|<need>`). The primary need is the
-- product category with the largest share of the customer's spend (net revenue of completed
-- orders before as_of; ties go to the first category by name), or `unknown` without such spend.
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

order_lines as (

    select * from {{ ref('fct_order_lines') }}

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

category_spend as (

    select
        customer_key,
        category,
        sum(net_revenue) as net_revenue

    from order_lines
    where customer_key is not null
        and order_status = 'completed'
        and has_known_product
    group by customer_key, category

),

ranked_needs as (

    select
        customer_key,
        category,
        net_revenue / nullif(sum(net_revenue) over (partition by customer_key), 0) as spend_share,
        row_number() over (partition by customer_key order by net_revenue desc, category)
            as need_rank

    from category_spend
    where net_revenue > 0

),

members as (

    select
        customer_value.customer_key,
        customer_value.value_tier,
        coalesce(ranked_needs.category, 'unknown') as primary_need,
        round(ranked_needs.spend_share, 4) as primary_need_spend_share,
        customer_value.actual_value,
        customer_value.as_of_date

    from customer_value
    left join ranked_needs
        on customer_value.customer_key = ranked_needs.customer_key
        and ranked_needs.need_rank = 1

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
