-- One row per customer: how to interact with them. Satisfaction, complaints, last contact, the
-- channel they prefer (most contacts in the trailing window), the cheapest channel they use
-- (seed channel_costs), and consent per channel (latest consent_change event wins).
--   <channel>_consent       the customer's latest decision on the channel (email, phone, sms,
--                           whatsapp); null when they never decided.
--   can_market_by_<channel> marketing on the channel is allowed: the customer has an address or
--                           number for it (email; phone for phone, sms and whatsapp) and either
--                           granted consent, or never decided and the channel is opt_out in their
--                           country (seed consent_rules). Opt-in channels, and countries without
--                           a rule, need a granted consent.
--   is_marketing_opted_out  true when the customer withdrew consent on every channel they ever
--                           decided on (and decided on at least one); marketing treatments
--                           exclude these customers.

with

customers as (

    select * from {{ ref('dim_customers') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

channel_costs as (

    select * from {{ ref('channel_costs') }}

),

consent_rules as (

    select * from {{ ref('consent_rules') }}

),

window_bounds as (

    select
        {{ as_of_date() }} as as_of_date,
        {{ value_window_start_timestamp() }} as window_start_at,
        {{ as_of_timestamp() }} as window_end_at

),

past_interactions as (

    select interactions.*
    from interactions
    cross join window_bounds
    where interactions.interaction_at < window_bounds.window_end_at

),

calls as (

    select
        customer_key,
        count(*) as calls,
        round(avg(satisfaction_score), 2) as satisfaction_avg,
        count(satisfaction_score) as satisfaction_responses,
        count(*) filter (where is_complaint) as complaints,
        count(*) filter (where is_complaint and call_resolution <> 'resolved') as open_complaints

    from past_interactions
    where interaction_type = 'call'
    group by customer_key

),

contacts as (

    select
        customer_key,
        max(interaction_at) as last_contact_at

    from past_interactions
    group by customer_key

),

channel_use as (

    select
        past_interactions.customer_key,
        past_interactions.channel,
        count(*) as contacts,
        channel_costs.cost_per_contact

    from past_interactions
    cross join window_bounds
    inner join channel_costs
        on past_interactions.channel = channel_costs.channel
    where past_interactions.interaction_at >= window_bounds.window_start_at
    group by past_interactions.customer_key, past_interactions.channel,
        channel_costs.cost_per_contact

),

channel_ranks as (

    select
        *,
        row_number() over (
            partition by customer_key order by contacts desc, cost_per_contact, channel
        ) as preference_rank,
        row_number() over (
            partition by customer_key order by cost_per_contact, channel
        ) as cost_rank

    from channel_use

),

consent_decisions as (

    select
        customer_key,
        consent_channel,
        is_consent_granted,
        row_number() over (
            partition by customer_key, consent_channel
            order by interaction_at desc, interaction_id desc
        ) as recency_rank

    from past_interactions
    where interaction_type = 'consent_change' and consent_channel is not null

),

consents as (

    select
        customer_key,
        {% for channel in marketing_channels() -%}
        bool_or(is_consent_granted) filter (where consent_channel = '{{ channel }}')
            as {{ channel }}_consent,
        {% endfor -%}
        bool_and(not is_consent_granted) as has_withdrawn_every_decided_channel

    from consent_decisions
    where recency_rank = 1
    group by customer_key

),

country_regimes as (

    select
        country,
        {% for channel in marketing_channels() -%}
        max(consent_regime) filter (where consent_channel = '{{ channel }}')
            as {{ channel }}_regime{% if not loop.last %},{% endif %}
        {% endfor %}

    from consent_rules
    group by country

),

final as (

    select
        customers.customer_key,
        window_bounds.as_of_date,
        coalesce(calls.calls, 0) as calls,
        calls.satisfaction_avg,
        coalesce(calls.satisfaction_responses, 0) as satisfaction_responses,
        coalesce(calls.complaints, 0) as complaints,
        coalesce(calls.open_complaints, 0) as open_complaints,
        contacts.last_contact_at,
        coalesce(preferred.channel, 'web') as preferred_channel,
        coalesce(cheapest.channel, 'web') as cheapest_channel,
        consents.email_consent,
        consents.phone_consent,
        consents.sms_consent,
        consents.whatsapp_consent,
        coalesce(consents.has_withdrawn_every_decided_channel, false) as is_marketing_opted_out,
        {% for channel, address in marketing_channels().items() -%}
        customers.{{ address }} is not null
            and coalesce(
                consents.{{ channel }}_consent, country_regimes.{{ channel }}_regime = 'opt_out',
                false
            )
            as can_market_by_{{ channel }}{% if not loop.last %},{% endif %}
        {% endfor %}

    from customers
    cross join window_bounds
    left join calls
        on customers.customer_key = calls.customer_key
    left join contacts
        on customers.customer_key = contacts.customer_key
    left join channel_ranks as preferred
        on customers.customer_key = preferred.customer_key
        and preferred.preference_rank = 1
    left join channel_ranks as cheapest
        on customers.customer_key = cheapest.customer_key
        and cheapest.cost_rank = 1
    left join consents
        on customers.customer_key = consents.customer_key
    left join country_regimes
        on customers.country = country_regimes.country

)

select * from final
