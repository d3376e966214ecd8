-- One row per call center contact: the latest non-null caller name, phone and email over the
-- contact's calls, with the name split into given name and surnames.

with

calls as (

    select * from {{ ref('stg_callcenter__calls') }}

),

contacts as (

    select
        contact_id,
        (array_agg(caller_name order by called_at desc, call_id desc)
            filter (where caller_name is not null))[1] as caller_name,
        (array_agg(phone order by called_at desc, call_id desc)
            filter (where phone is not null))[1] as phone,
        (array_agg(email order by called_at desc, call_id desc)
            filter (where email is not null))[1] as email,
        count(*) as call_count,
        min(called_at) as first_called_at,
        max(called_at) as last_called_at

    from calls
    group by contact_id

),

names_cleaned as (

    select
        *,
        -- Collapse whitespace, then drop a leading courtesy title ("Sr.", "Dra.", "Mrs", ...).
        nullif(
            regexp_replace(
                regexp_replace(btrim(caller_name), '\s+', ' ', 'g'),
                '^(sr|sra|srta|dr|dra|mr|mrs|ms|miss)\.?\s+', '', 'i'
            ),
            ''
        ) as cleaned_name

    from contacts

),

names_ordered as (

    select
        *,
        -- Agents sometimes type "Surnames, Given names": put the given names first.
        case
            when cleaned_name like '%,%' then nullif(btrim(
                btrim(substr(cleaned_name, strpos(cleaned_name, ',') + 1))
                || ' '
                || btrim(split_part(cleaned_name, ',', 1))
            ), '')
            else cleaned_name
        end as full_name

    from names_cleaned

),

names_split as (

    select
        contact_id,
        -- The first token is the given name, the rest are the surnames (often two).
        nullif(split_part(full_name, ' ', 1), '') as first_name,
        nullif(btrim(substr(full_name, length(split_part(full_name, ' ', 1)) + 1)), '')
            as last_name,
        full_name,
        caller_name,
        phone,
        email,
        call_count,
        first_called_at,
        last_called_at

    from names_ordered

)

select * from names_split
