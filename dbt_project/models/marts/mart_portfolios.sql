-- One row per customer: the customer's portfolio (cartera) and who looks after it.
--
-- A segment is value tier x needs segment (`<tier>|<need>`). How a tier is looked after is set
-- by the seed service_levels (`coverage`), the way a company runs carteras at any scale:
--   key_account  named account managers (seed account_managers, coverage key_account) each
--                look after a bounded number of customers. A segment is cut into books of at
--                most `key_account_book_size` customers, best strategic value first (ties:
--                customer_key); book n is portfolio `<tier>|<need>|<n>`. Books are handed out
--                MVC before MGC, first books of every segment before second books (so the best
--                customers of every segment get a manager first), then larger books, then by
--                segment; each goes whole to the active key-account manager who can take it
--                and would then have used the smallest share of their capacity (ties:
--                manager_id): deterministic, never over capacity, loads in proportion to
--                capacity (a manager with twice the capacity gets about twice the customers,
--                not all of them until the others catch up). A book that fits no manager joins the
--                segment's pooled portfolio `<tier>|<need>|pooled`, served by the tier's pooled
--                team (service_levels.pooled_manager_id).
--   pooled       mass tiers: the whole segment is one portfolio `<tier>|<need>|pooled` of the
--                tier's pooled team or channel (a seed row with coverage pooled; an empty
--                capacity means unbounded, e.g. a digital channel).
-- A pooled team with a capacity is held to it by the capacity test, like a manager: when it
-- overflows, the tests fail rather than a customer being dropped or moved silently.
-- No named manager holds fewer than `portfolio_min_customers_per_manager` customers: when the
-- books handed to a manager add up to fewer, the manager keeps none of them and they join their
-- segments' pooled portfolios (one pass: the capacity they leave is not handed out again).
-- pooled_reason says why a customer is pooled: pooled_tier (the tier is served pooled),
-- no_manager_capacity (the book fit no manager), below_manager_minimum (the book's manager
-- would hold fewer than the minimum); null for a customer in a manager's book.

with recursive

customer_value as (

    select * from {{ ref('mart_customer_value') }}

),

needs as (

    select * from {{ ref('mart_customer_needs') }}

),

service_levels as (

    select * from {{ ref('service_levels') }}

),

managers as (

    select * from {{ ref('account_managers') }}

),

key_account_managers as (

    select
        manager_id,
        capacity,
        row_number() over (order by manager_id) as manager_index

    from managers
    where is_active
        and coverage = 'key_account'

),

members as (

    select
        customer_value.customer_key,
        customer_value.value_tier || '|' || needs.need_segment as portfolio_segment,
        customer_value.value_tier,
        needs.need_segment as primary_need,
        needs.primary_need_spend_share,
        service_levels.coverage,
        service_levels.pooled_manager_id,
        customer_value.actual_value,
        customer_value.strategic_value,
        customer_value.as_of_date

    from customer_value
    inner join needs
        on customer_value.customer_key = needs.customer_key
    -- A tier missing from the seed leaves its customers without a manager: the tests fail.
    left join service_levels
        on customer_value.value_tier = service_levels.value_tier

),

key_account_members as (

    select
        *,
        ceil(
            row_number() over (
                partition by portfolio_segment
                order by strategic_value desc, customer_key
            )::numeric / {{ var('key_account_book_size') }}
        )::bigint as book_number

    from members
    where coverage = 'key_account'

),

books as (

    select
        portfolio_segment,
        value_tier,
        book_number,
        count(*) as customer_count,
        row_number() over (
            order by
                case value_tier when 'MVC' then 1 when 'MGC' then 2 else 3 end,
                book_number,
                count(*) desc,
                portfolio_segment
        ) as assignment_order

    from key_account_members
    group by portfolio_segment, value_tier, book_number

),

-- One book per step: remaining_capacity[i] is what key-account manager i can still take after
-- the books before this one; the book goes to the manager who would then have used the smallest
-- share of their capacity.
assignments (assignment_order, manager_index, remaining_capacity) as (

    select
        0::bigint,
        null::bigint,
        coalesce(
            (select array_agg(capacity::bigint order by manager_index) from key_account_managers),
            array[]::bigint[]
        )

    union all

    select
        books.assignment_order,
        chosen.manager_index,
        case
            when chosen.manager_index is null then assignments.remaining_capacity
            else array(
                select
                    case
                        when slot.manager_index = chosen.manager_index
                            then slot.remaining - books.customer_count
                        else slot.remaining
                    end
                from unnest(assignments.remaining_capacity)
                    with ordinality as slot (remaining, manager_index)
                order by slot.manager_index
            )
        end

    from assignments
    inner join books
        on books.assignment_order = assignments.assignment_order + 1
    left join lateral (
        select slot.manager_index
        from unnest(assignments.remaining_capacity)
            with ordinality as slot (remaining, manager_index)
        inner join key_account_managers
            on slot.manager_index = key_account_managers.manager_index
        where slot.remaining >= books.customer_count
        order by
            (key_account_managers.capacity - slot.remaining + books.customer_count)::numeric
                / key_account_managers.capacity,
            slot.manager_index
        limit 1
    ) as chosen on true

),

assigned_books as (

    select
        books.portfolio_segment,
        books.book_number,
        key_account_managers.manager_id,
        sum(books.customer_count) over (partition by key_account_managers.manager_id)
            as manager_customers

    from books
    inner join assignments
        on books.assignment_order = assignments.assignment_order
    inner join key_account_managers
        on assignments.manager_index = key_account_managers.manager_index

),

book_managers as (

    -- A manager whose books add up to fewer customers than the minimum keeps none of them.
    select
        portfolio_segment,
        book_number,
        manager_id

    from assigned_books
    where manager_customers >= {{ var('portfolio_min_customers_per_manager') }}

),

placed as (

    -- Key-account tiers: the customer's book when a manager took it, else the segment's pooled
    -- portfolio.
    select
        key_account_members.customer_key,
        case
            when book_managers.manager_id is not null
                then key_account_members.portfolio_segment
                    || '|' || key_account_members.book_number
            else key_account_members.portfolio_segment || '|pooled'
        end as portfolio_id,
        case when book_managers.manager_id is not null then 'key_account' else 'pooled' end
            as coverage,
        coalesce(book_managers.manager_id, key_account_members.pooled_manager_id) as manager_id,
        case
            when book_managers.manager_id is not null then null
            when assigned_books.manager_id is not null then 'below_manager_minimum'
            else 'no_manager_capacity'
        end as pooled_reason

    from key_account_members
    left join book_managers
        on key_account_members.portfolio_segment = book_managers.portfolio_segment
        and key_account_members.book_number = book_managers.book_number
    left join assigned_books
        on key_account_members.portfolio_segment = assigned_books.portfolio_segment
        and key_account_members.book_number = assigned_books.book_number

    union all

    select
        customer_key,
        portfolio_segment || '|pooled' as portfolio_id,
        'pooled' as coverage,
        pooled_manager_id as manager_id,
        'pooled_tier' as pooled_reason

    from members
    where coverage is distinct from 'key_account'

),

final as (

    select
        members.customer_key,
        placed.portfolio_id,
        members.portfolio_segment,
        members.value_tier,
        members.primary_need,
        members.primary_need_spend_share,
        placed.coverage,
        placed.pooled_reason,
        placed.manager_id,
        managers.manager_name,
        members.actual_value,
        members.strategic_value,
        members.as_of_date

    from members
    inner join placed
        on members.customer_key = placed.customer_key
    left join managers
        on placed.manager_id = managers.manager_id

)

select * from final
