-- One row per source customer record: the input of identity resolution (contract:
-- docs/data-contracts.md, "intermediate.int_customer_records_unioned"). Exactly the contract's
-- columns, in its order. Must not depend on identity: it runs before identity resolution.

{{ config(materialized='table') }}

with

erp_customers as (

    select * from {{ ref('stg_erp__customers') }}

),

callcenter_contacts as (

    select * from {{ ref('int_callcenter_contacts') }}

),

web_accounts as (

    select * from {{ ref('int_web_accounts') }}

),

erp_records as (

    select
        'erp'::text as source,
        customer_id as source_record_id,
        first_name,
        last_name,
        nullif(concat_ws(' ', first_name, last_name), '') as full_name,
        birth_date,
        email,
        phone,
        address_line,
        city,
        postcode,
        region,
        country,
        tax_id as national_id,
        updated_at

    from erp_customers

),

callcenter_records as (

    select
        'callcenter'::text as source,
        contact_id as source_record_id,
        first_name,
        last_name,
        full_name,
        null::date as birth_date,
        email,
        phone,
        null::text as address_line,
        null::text as city,
        null::text as postcode,
        null::text as region,
        null::text as country,
        null::text as national_id,
        last_called_at as updated_at

    from callcenter_contacts

),

web_records as (

    select
        'web'::text as source,
        account_id as source_record_id,
        first_name,
        last_name,
        full_name,
        birth_date,
        email,
        phone,
        null::text as address_line,
        city,
        null::text as postcode,
        null::text as region,
        country,
        null::text as national_id,
        coalesce(profile_updated_at, first_event_at) as updated_at

    from web_accounts

),

unioned as (

    select * from erp_records
    union all
    select * from callcenter_records
    union all
    select * from web_records

)

select * from unioned
