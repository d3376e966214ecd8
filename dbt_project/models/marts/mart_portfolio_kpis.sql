-- One row per portfolio (see mart_portfolios: a key-account book or a segment's pooled
-- portfolio): its manager or pooled team and that one's load, size, value and service KPIs over
-- the trailing value window before as_of. Open complaints: complaint calls in the window whose
-- resolution is not `resolved` (the call center delivers no later status for a call). Churn
-- figures cover the customers the value model scored (those with completed orders): the others
-- have no purchase relationship to lose.

with

portfolio_members as (

    select * from {{ ref('mart_portfolios') }}

),

customer_value as (

    select * from {{ ref('mart_customer_value') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

managers as (

    select * from {{ ref('account_managers') }}

),

calls_in_window as (

    select
        interactions.customer_key,
        interactions.satisfaction_score,
        interactions.is_complaint,
        interactions.call_resolution

    from interactions
    where interactions.interaction_type = 'call'
        and interactions.interaction_at >= {{ value_window_start_timestamp() }}
        and interactions.interaction_at < {{ as_of_timestamp() }}

),

call_kpis as (

    select
        portfolio_members.portfolio_id,
        count(*) as calls,
        avg(calls_in_window.satisfaction_score) as satisfaction_avg,
        count(calls_in_window.satisfaction_score) as satisfaction_responses,
        count(*) filter (
            where calls_in_window.is_complaint and calls_in_window.call_resolution <> 'resolved'
        ) as open_complaints

    from calls_in_window
    inner join portfolio_members
        on calls_in_window.customer_key = portfolio_members.customer_key
    group by portfolio_members.portfolio_id

),

value_kpis as (

    select
        portfolio_members.portfolio_id,
        portfolio_members.portfolio_segment,
        portfolio_members.value_tier,
        portfolio_members.primary_need,
        portfolio_members.coverage,
        portfolio_members.manager_id,
        portfolio_members.as_of_date,
        count(*) as customers,
        sum(customer_value.trailing_margin) as trailing_margin_total,
        sum(customer_value.cost_to_serve) as cost_to_serve_total,
        sum(customer_value.actual_value) as actual_value_total,
        avg(customer_value.actual_value) as actual_value_avg,
        sum(customer_value.strategic_value) as strategic_value_total,
        avg(customer_value.strategic_value) as strategic_value_avg,
        count(customer_value.churn_risk) as churn_scored_customers,
        avg(customer_value.churn_risk) as churn_risk_avg,
        count(*) filter (where customer_value.is_high_churn_risk) as high_churn_risk_customers

    from portfolio_members
    inner join customer_value
        on portfolio_members.customer_key = customer_value.customer_key
    group by
        portfolio_members.portfolio_id,
        portfolio_members.portfolio_segment,
        portfolio_members.value_tier,
        portfolio_members.primary_need,
        portfolio_members.coverage,
        portfolio_members.manager_id,
        portfolio_members.as_of_date

),

manager_load as (

    select
        manager_id,
        count(*) as manager_customers

    from portfolio_members
    where manager_id is not null
    group by manager_id

),

final as (

    select
        value_kpis.portfolio_id,
        value_kpis.portfolio_segment,
        value_kpis.value_tier,
        value_kpis.primary_need,
        value_kpis.coverage,
        value_kpis.manager_id,
        managers.manager_name,
        managers.capacity as manager_capacity,
        manager_load.manager_customers,
        round(manager_load.manager_customers::numeric / managers.capacity, 4)
            as manager_capacity_used_share,
        value_kpis.customers,
        value_kpis.trailing_margin_total,
        value_kpis.cost_to_serve_total,
        value_kpis.actual_value_total,
        round(value_kpis.actual_value_avg, 2) as actual_value_avg,
        value_kpis.strategic_value_total,
        round(value_kpis.strategic_value_avg, 2) as strategic_value_avg,
        value_kpis.churn_scored_customers,
        round(value_kpis.churn_risk_avg, 4) as churn_risk_avg,
        value_kpis.high_churn_risk_customers,
        round(
            value_kpis.high_churn_risk_customers::numeric
            / nullif(value_kpis.churn_scored_customers, 0),
            4
        ) as high_churn_risk_share,
        coalesce(call_kpis.calls, 0) as calls,
        round(call_kpis.satisfaction_avg, 2) as satisfaction_avg,
        coalesce(call_kpis.satisfaction_responses, 0) as satisfaction_responses,
        coalesce(call_kpis.open_complaints, 0) as open_complaints,
        value_kpis.as_of_date

    from value_kpis
    left join call_kpis
        on value_kpis.portfolio_id = call_kpis.portfolio_id
    left join managers
        on value_kpis.manager_id = managers.manager_id
    left join manager_load
        on value_kpis.manager_id = manager_load.manager_id

)

select * from final
