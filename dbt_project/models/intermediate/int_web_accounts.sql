-- One row per web account: the registration profile overlaid with later profile updates (per
-- attribute, the latest non-null value wins), plus the account's activity span.

with

events as (

    select * from {{ ref('stg_web__events') }}
    where account_id is not null

),

accounts as (

    select
        account_id,
        {%- for attribute in ['email', 'first_name', 'last_name', 'phone', 'birth_date', 'city', 'country'] %}
        (array_agg({{ attribute }} order by occurred_at desc, event_id desc)
            filter (where event_type in ('registration', 'profile_update')
                and {{ attribute }} is not null))[1] as {{ attribute }},
        {%- endfor %}
        bool_or(event_type = 'registration') as is_registered,
        min(occurred_at) filter (where event_type = 'registration') as registered_at,
        max(occurred_at) filter (where event_type in ('registration', 'profile_update'))
            as profile_updated_at,
        min(occurred_at) as first_event_at,
        max(occurred_at) as last_event_at,
        count(*) as event_count

    from events
    group by account_id

),

final as (

    select
        account_id,
        first_name,
        last_name,
        nullif(concat_ws(' ', first_name, last_name), '') as full_name,
        birth_date,
        email,
        phone,
        city,
        country,
        is_registered,
        registered_at,
        profile_updated_at,
        first_event_at,
        last_event_at,
        event_count

    from accounts

)

select * from final
