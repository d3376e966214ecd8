-- One row per household (household_key): the customers at one standardised golden address
-- (int_customer_households), with where they live, how many share a surname, and the
-- household's value: the sums of the members' actual and strategic value (mart_customer_value),
-- their best value tier, and how many of them marketing may reach. No address and no names: the
-- household is described by city and country only.
-- Best tier order: MVC, MGC, other, prospect (not bought yet), BZ (costs more than it brings).

with

customers as (

    select * from {{ ref('dim_customers') }}

),

households as (

    select * from {{ ref('int_customer_households') }}

),

customer_value as (

    select * from {{ ref('mart_customer_value') }}

),

customer_contact as (

    select * from {{ ref('mart_customer_contact') }}

),

members as (

    select
        customers.household_key,
        customers.customer_key,
        customers.city,
        customers.country,
        households.shares_surname_with_household,
        customer_value.actual_value,
        customer_value.strategic_value,
        customer_value.value_tier,
        case customer_value.value_tier
            when 'MVC' then 1
            when 'MGC' then 2
            when 'other' then 3
            when 'prospect' then 4
            when 'BZ' then 5
        end as value_tier_rank,
        coalesce(
            {%- for channel in marketing_channels() %}
            customer_contact.can_market_by_{{ channel }}{% if not loop.last %} or{% endif %}
            {%- endfor %},
            false
        ) as is_contactable

    from customers
    inner join households
        on customers.customer_key = households.customer_key
    left join customer_value
        on customers.customer_key = customer_value.customer_key
    left join customer_contact
        on customers.customer_key = customer_contact.customer_key
    where customers.household_key is not null

),

{#- The most common city and country among the members; ties: the first in text order. #}
household_places as (

    select
        household_key,
        mode() within group (order by city) as city,
        mode() within group (order by country) as country

    from members
    group by household_key

),

household_figures as (

    select
        household_key,
        count(*) as members,
        count(*) filter (where shares_surname_with_household) as members_sharing_surname,
        count(*) filter (where is_contactable) as contactable_members,
        coalesce(sum(actual_value), 0) as household_actual_value,
        coalesce(sum(strategic_value), 0) as household_strategic_value,
        min(value_tier_rank) as best_value_tier_rank

    from members
    group by household_key

),

final as (

    select
        household_figures.household_key,
        household_figures.members,
        household_places.city,
        household_places.country,
        household_figures.members_sharing_surname,
        household_figures.household_actual_value,
        household_figures.household_strategic_value,
        case household_figures.best_value_tier_rank
            when 1 then 'MVC'
            when 2 then 'MGC'
            when 3 then 'other'
            when 4 then 'prospect'
            when 5 then 'BZ'
        end as best_value_tier,
        household_figures.contactable_members

    from household_figures
    inner join household_places
        on household_figures.household_key = household_places.household_key

)

select * from final
