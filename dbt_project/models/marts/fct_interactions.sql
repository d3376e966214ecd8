-- One timeline of every interaction of a known customer before as_of: ERP orders, call center
-- calls and web events of accounts (anonymous web events are excluded). One row per interaction;
-- the detail columns of the other kinds are null.

with

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

calls as (

    select * from {{ ref('stg_callcenter__calls') }}

),

web_events as (

    select * from {{ ref('stg_web__events') }}
    where account_id is not null

),

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}

),

order_interactions as (

    select
        'order:' || orders.order_id as interaction_id,
        customer_keys.customer_key,
        orders.ordered_at as interaction_at,
        'erp'::text as source,
        orders.customer_id as source_record_id,
        orders.channel,
        'order'::text as interaction_type,
        orders.order_id,
        orders.status as order_status,
        orders.net_revenue as order_net_revenue,
        orders.gross_margin as order_gross_margin,
        orders.items as order_items,
        null::text as call_id,
        null::text as call_reason,
        null::integer as call_duration_seconds,
        null::smallint as satisfaction_score,
        null::boolean as is_complaint,
        null::text as call_resolution,
        null::text as agent_id,
        null::text as web_event_id,
        null::text as session_id,
        null::text as page_category,
        null::text as coupon_code,
        null::text as consent_channel,
        null::boolean as is_consent_granted

    from orders
    inner join customer_keys
        on customer_keys.source = 'erp'
        and orders.customer_id = customer_keys.source_record_id

),

call_interactions as (

    select
        'call:' || calls.call_id as interaction_id,
        customer_keys.customer_key,
        calls.called_at as interaction_at,
        'callcenter'::text as source,
        calls.contact_id as source_record_id,
        'phone'::text as channel,
        'call'::text as interaction_type,
        null::text as order_id,
        null::text as order_status,
        null::numeric as order_net_revenue,
        null::numeric as order_gross_margin,
        null::bigint as order_items,
        calls.call_id,
        calls.reason as call_reason,
        calls.duration_seconds as call_duration_seconds,
        calls.satisfaction_score,
        calls.is_complaint,
        calls.resolution as call_resolution,
        calls.agent_id,
        null::text as web_event_id,
        null::text as session_id,
        null::text as page_category,
        null::text as coupon_code,
        null::text as consent_channel,
        null::boolean as is_consent_granted

    from calls
    inner join customer_keys
        on customer_keys.source = 'callcenter'
        and calls.contact_id = customer_keys.source_record_id

),

web_interactions as (

    select
        'web:' || web_events.event_id as interaction_id,
        customer_keys.customer_key,
        web_events.occurred_at as interaction_at,
        'web'::text as source,
        web_events.account_id as source_record_id,
        'web'::text as channel,
        web_events.event_type as interaction_type,
        web_events.coupon_order_id as order_id,
        null::text as order_status,
        null::numeric as order_net_revenue,
        null::numeric as order_gross_margin,
        null::bigint as order_items,
        null::text as call_id,
        null::text as call_reason,
        null::integer as call_duration_seconds,
        null::smallint as satisfaction_score,
        null::boolean as is_complaint,
        null::text as call_resolution,
        null::text as agent_id,
        web_events.event_id as web_event_id,
        web_events.session_id,
        web_events.page_category,
        web_events.coupon_code,
        web_events.consent_channel,
        web_events.is_consent_granted

    from web_events
    inner join customer_keys
        on customer_keys.source = 'web'
        and web_events.account_id = customer_keys.source_record_id

),

unioned as (

    select * from order_interactions
    union all
    select * from call_interactions
    union all
    select * from web_interactions

)

select * from unioned
where interaction_at < {{ as_of_timestamp() }}
