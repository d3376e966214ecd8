-- One row per dated event of a known customer before as_of, keyed by customer: what else the
-- warehouse knows happened to them, the event features of the value model's boosted correction
-- (src/onetoone/stages/value/hybrid.py), which the pipeline's value step reads beside
-- int_customer_transactions. A small vocabulary, nothing personal:
--   call                   a call center call that is not a complaint
--   complaint_resolved     a complaint the call center put right (resolution `resolved`)
--   complaint_unresolved   a complaint not (yet) put right: unresolved, escalated, pending or no
--                          resolution given
--   web_visit              a web session of the customer's account (anonymous sessions have no
--                          customer), dated by its first event
--   order_returned         an ERP order now returned, dated by its last update (the status change)
--   order_cancelled        an ERP order now cancelled, dated likewise
-- A table with an enforced contract, because the value task reads it in full (like
-- int_customer_records_unioned for identity). Rebuilt whole each run: identity can move a record
-- to another key on any run. Linear: web events are grouped once into sessions, and every part is
-- a hash join on (source, source_record_id) with the identity keys.
{{ config(materialized='table', tags=['identity']) }}

with

calls as (

    select * from {{ ref('stg_callcenter__calls') }}
    where called_at < {{ as_of_timestamp() }}

),

web_events as (

    select * from {{ ref('stg_web__events') }}
    where account_id is not null
        and occurred_at < {{ as_of_timestamp() }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}
    where is_returned or is_cancelled

),

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}

),

call_events as (

    select
        'callcenter'::text as source,
        contact_id as source_record_id,
        call_id as source_event_id,
        called_at as occurred_at,
        case
            when not is_complaint then 'call'
            when resolution = 'resolved' then 'complaint_resolved'
            else 'complaint_unresolved'
        end as event

    from calls

),

web_sessions as (

    -- An event without a session is a session of its own.
    select
        'web'::text as source,
        account_id as source_record_id,
        min(event_id) as source_event_id,
        min(occurred_at) as occurred_at,
        'web_visit'::text as event

    from web_events
    group by account_id, coalesce(session_id, event_id)

),

order_events as (

    select
        'erp'::text as source,
        customer_id as source_record_id,
        order_id as source_event_id,
        greatest(ordered_at, updated_at) as occurred_at,
        case when is_returned then 'order_returned' else 'order_cancelled' end as event

    from orders
    where greatest(ordered_at, updated_at) < {{ as_of_timestamp() }}

),

events as (

    select * from call_events
    union all
    select * from web_sessions
    union all
    select * from order_events

),

final as (

    select
        events.source || ':' || events.source_event_id as event_id,
        customer_keys.customer_key,
        (events.occurred_at at time zone '{{ var("warehouse_timezone") }}')::date as event_date,
        events.event,
        events.source

    from events
    inner join customer_keys
        on customer_keys.source = events.source
        and customer_keys.source_record_id = events.source_record_id

)

select * from final
