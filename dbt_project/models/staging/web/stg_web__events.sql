with

source as (

    select * from {{ source('raw', 'web_events') }}

),

renamed as (

    -- An event is extracted once; should a file be delivered twice, keep the latest load.
    select distinct on (event_id)
        event_id,
        event_type,
        occurred_at,
        account_id,
        session_id,
        -- registration / profile_update (newsletter_signup carries email only)
        nullif(btrim(payload ->> 'email'), '') as email,
        nullif(btrim(payload ->> 'first_name'), '') as first_name,
        nullif(btrim(payload ->> 'last_name'), '') as last_name,
        nullif(btrim(payload ->> 'phone'), '') as phone,
        case
            when pg_input_is_valid(payload ->> 'birth_date', 'date')
                then (payload ->> 'birth_date')::date
        end as birth_date,
        nullif(btrim(payload ->> 'city'), '') as city,
        nullif(btrim(payload ->> 'country'), '') as country,
        -- page_view
        payload ->> 'page_category' as page_category,
        payload ->> 'url' as page_url,
        -- coupon_redemption
        payload ->> 'coupon_code' as coupon_code,
        payload ->> 'order_id' as coupon_order_id,
        -- consent_change
        payload ->> 'channel' as consent_channel,
        case
            when jsonb_typeof(payload -> 'granted') = 'boolean' then (payload ->> 'granted')::boolean
            when lower(payload ->> 'granted') in ('true', 'false') then (payload ->> 'granted')::boolean
        end as is_consent_granted,
        account_id is null as is_anonymous,
        _batch_id as load_batch_id,
        _source_file as source_file,
        _line_number as source_line_number,
        _loaded_at as loaded_at

    from source
    where event_id is not null
    order by event_id, _batch_id desc, _line_number desc

)

select * from renamed
