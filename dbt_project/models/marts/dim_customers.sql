-- One row per customer (customer_key): the golden record and the customer's footprint.
-- Golden record: per attribute the value int_customer_golden_values chose by the survivorship
-- rules of var golden_record_rules (validity, source trust, frequency, recency), and in
-- `<attribute>_source` the source system it came from. household_key: the customer's household
-- (int_customer_households; null without an address).

{%- set attributes = golden_attributes() %}

with

customer_records as (

    select * from {{ ref('int_customer_records_unioned') }}

),

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}

),

erp_customers as (

    select * from {{ ref('stg_erp__customers') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

golden_values as (

    select * from {{ ref('int_customer_golden_values') }}

),

households as (

    select * from {{ ref('int_customer_households') }}

),

keyed_records as (

    select
        customer_keys.customer_key,
        customer_keys.model_version,
        customer_records.source

    from customer_records
    inner join customer_keys
        on customer_records.source = customer_keys.source
        and customer_records.source_record_id = customer_keys.source_record_id

),

golden_records as (

    select
        customer_key,
        {%- for name in attributes %}
        max(attribute_value) filter (where attribute_name = '{{ name }}')::{{ golden_attribute_type(name) }} as {{ name }},
        {%- endfor %}
        {%- for name in attributes %}
        max(source) filter (where attribute_name = '{{ name }}') as {{ name }}_source{% if not loop.last %},{% endif %}
        {%- endfor %}

    from golden_values
    group by customer_key

),

record_counts as (

    select
        customer_key,
        max(model_version) as identity_model_version,
        count(*) as source_record_count,
        count(*) filter (where source = 'erp') as erp_record_count,
        count(*) filter (where source = 'web') as web_record_count,
        count(*) filter (where source = 'callcenter') as callcenter_record_count

    from keyed_records
    group by customer_key

),

erp_created as (

    select
        customer_keys.customer_key,
        min(erp_customers.created_at) as erp_created_at

    from erp_customers
    inner join customer_keys
        on customer_keys.source = 'erp'
        and erp_customers.customer_id = customer_keys.source_record_id
    where erp_customers.created_at < {{ as_of_timestamp() }}
    group by customer_keys.customer_key

),

activity as (

    select
        customer_key,
        min(interaction_at) as first_interaction_at,
        max(interaction_at) as last_interaction_at

    from interactions
    group by customer_key

),

final as (

    select
        record_counts.customer_key,
        golden_records.first_name,
        golden_records.last_name,
        nullif(concat_ws(' ', golden_records.first_name, golden_records.last_name), '') as full_name,
        golden_records.first_name_source,
        golden_records.last_name_source,
        golden_records.birth_date,
        golden_records.birth_date_source,
        golden_records.email,
        golden_records.email_source,
        golden_records.phone,
        golden_records.phone_source,
        golden_records.address_line,
        golden_records.address_line_source,
        golden_records.city,
        golden_records.city_source,
        golden_records.postcode,
        golden_records.postcode_source,
        golden_records.region,
        golden_records.region_source,
        golden_records.country,
        golden_records.country_source,
        golden_records.national_id,
        golden_records.national_id_source,
        record_counts.source_record_count,
        record_counts.erp_record_count,
        record_counts.web_record_count,
        record_counts.callcenter_record_count,
        record_counts.identity_model_version,
        households.household_key,
        least(erp_created.erp_created_at, activity.first_interaction_at) as first_seen_at,
        greatest(erp_created.erp_created_at, activity.last_interaction_at) as last_seen_at

    from record_counts
    left join golden_records
        on record_counts.customer_key = golden_records.customer_key
    left join erp_created
        on record_counts.customer_key = erp_created.customer_key
    left join activity
        on record_counts.customer_key = activity.customer_key
    left join households
        on record_counts.customer_key = households.customer_key

)

select * from final
