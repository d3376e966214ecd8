-- One row per customer x module type (base_product, add_on, service_level, payment_plan): the
-- customer's offer assembled from the modules the business keeps in seeds (mass
-- customisation), with the reason for each choice.
--   modules       seed offer_modules (base products, add-ons, payment plans) and seed
--                 service_levels (the service-level module of each value tier)
--   fits          a module fits a customer when every condition it sets holds: need_segment
--                 (mart_customer_needs), value_tiers (mart_customer_value.value_tier, one of a
--                 `|` list), min_completed_orders (completed orders in the value window) and
--                 churn_condition (high / not_high: is_high_churn_risk); empty conditions fit all
--   choice        of the fitting modules of a type, the lowest priority (ties: module_id)
--   reason        the conditions the chosen module set and the customer's figures that met
--                 them, and how many modules of the type fitted; 'no module fits' when none did
--                 (module_id null: that part of the offer is left out)

with

customer_value as (

    select * from {{ ref('mart_customer_value') }}

),

needs as (

    select * from {{ ref('mart_customer_needs') }}

),

offer_modules as (

    select * from {{ ref('offer_modules') }}

),

service_levels as (

    select * from {{ ref('service_levels') }}

),

modules as (

    select
        module_type,
        module_id,
        module_name,
        need_segment,
        string_to_array(value_tiers, '|') as value_tiers,
        min_completed_orders,
        churn_condition,
        priority

    from offer_modules

    union all

    -- Each tier's service level is the service-level module that fits that tier only.
    select
        'service_level' as module_type,
        service_level as module_id,
        service_level as module_name,
        null as need_segment,
        array[value_tier] as value_tiers,
        0 as min_completed_orders,
        'any' as churn_condition,
        0 as priority

    from service_levels

),

module_types as (

    select module_type
    from (values ('base_product'), ('add_on'), ('service_level'), ('payment_plan')) as types (module_type)

),

customers as (

    select
        customer_value.customer_key,
        customer_value.as_of_date,
        customer_value.value_tier,
        customer_value.completed_orders,
        customer_value.is_high_churn_risk,
        needs.need_segment

    from customer_value
    inner join needs
        on customer_value.customer_key = needs.customer_key

),

fits as (

    select
        customers.customer_key,
        modules.module_type,
        modules.module_id,
        modules.module_name,
        concat_ws(
            '; ',
            case when modules.need_segment is not null
                then 'need segment ' || customers.need_segment end,
            case when modules.value_tiers is not null
                then 'tier ' || customers.value_tier || ' in '
                    || array_to_string(modules.value_tiers, '|') end,
            case when modules.min_completed_orders > 0
                then customers.completed_orders || ' completed orders in the window (at least '
                    || modules.min_completed_orders || ')' end,
            case modules.churn_condition
                when 'high' then 'at high churn risk'
                when 'not_high' then 'not at high churn risk' end
        ) as conditions_met,
        count(*) over (partition by customers.customer_key, modules.module_type) as fitting_modules,
        row_number() over (
            partition by customers.customer_key, modules.module_type
            order by modules.priority, modules.module_id
        ) as choice_rank

    from customers
    inner join modules
        on (modules.need_segment is null or modules.need_segment = customers.need_segment)
        and (modules.value_tiers is null or customers.value_tier = any(modules.value_tiers))
        and customers.completed_orders >= modules.min_completed_orders
        and (
            modules.churn_condition = 'any'
            or (modules.churn_condition = 'high' and customers.is_high_churn_risk)
            or (modules.churn_condition = 'not_high' and not customers.is_high_churn_risk)
        )

),

final as (

    select
        customers.customer_key,
        customers.as_of_date,
        module_types.module_type,
        fits.module_id,
        fits.module_name,
        case
            when fits.module_id is null then 'no module fits'
            else coalesce(nullif(fits.conditions_met, ''), 'fits every customer')
                || case
                    when fits.fitting_modules = 1 then ' (the only module that fits)'
                    else ' (first by priority of ' || fits.fitting_modules || ' that fit)'
                end
        end as reason,
        customers.value_tier,
        customers.need_segment

    from customers
    cross join module_types
    left join fits
        on customers.customer_key = fits.customer_key
        and module_types.module_type = fits.module_type
        and fits.choice_rank = 1

)

select * from final
