-- One row per customer (customer_key): a first golden record and the customer's footprint.
-- Golden record: per attribute, the most recent non-null value over the customer's source
-- records (by the record's updated_at), source trust (var source_trust_order, default
-- erp > web > callcenter) breaking ties.

{%- set attributes = [
    ('first_name', 'text'), ('last_name', 'text'), ('birth_date', 'date'), ('email', 'text'),
    ('phone', 'text'), ('address_line', 'text'), ('city', 'text'), ('postcode', 'text'),
    ('region', 'text'), ('country', 'text'), ('national_id', 'text')
] %}
{%- set lineage = ['first_name', 'last_name', 'email', 'phone'] %}

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

keyed_records as (

    select
        customer_keys.customer_key,
        customer_keys.model_version,
        customer_records.*,
        {{ source_trust_rank('customer_records.source') }} as source_trust_rank

    from customer_records
    inner join customer_keys
        on customer_records.source = customer_keys.source
        and customer_records.source_record_id = customer_keys.source_record_id

),

attribute_values as (

    select
        keyed_records.customer_key,
        attribute.attribute_name,
        attribute.attribute_value,
        keyed_records.source,
        keyed_records.source_record_id,
        keyed_records.updated_at,
        keyed_records.source_trust_rank

    from keyed_records
    cross join lateral (
        values
        {%- for name, type in attributes %}
            ('{{ name }}', keyed_records.{{ name }}::text){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as attribute (attribute_name, attribute_value)
    where attribute.attribute_value is not null

),

ranked_values as (

    select
        *,
        row_number() over (
            partition by customer_key, attribute_name
            order by updated_at desc nulls last, source_trust_rank, source_record_id
        ) as value_rank

    from attribute_values

),

golden_records as (

    select
        customer_key,
        {%- for name, type in attributes %}
        max(attribute_value) filter (where attribute_name = '{{ name }}')::{{ type }} as {{ name }},
        {%- endfor %}
        {%- for name in lineage %}
        max(source) filter (where attribute_name = '{{ name }}') as {{ name }}_source{% if not loop.last %},{% endif %}
        {%- endfor %}

    from ranked_values
    where value_rank = 1
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
        golden_records.email,
        golden_records.email_source,
        golden_records.phone,
        golden_records.phone_source,
        golden_records.address_line,
        golden_records.city,
        golden_records.postcode,
        golden_records.region,
        golden_records.country,
        golden_records.national_id,
        record_counts.source_record_count,
        record_counts.erp_record_count,
        record_counts.web_record_count,
        record_counts.callcenter_record_count,
        record_counts.identity_model_version,
        least(erp_created.erp_created_at, activity.first_interaction_at) as first_seen_at,
        greatest(erp_created.erp_created_at, activity.last_interaction_at) as last_seen_at

    from record_counts
    left join golden_records
        on record_counts.customer_key = golden_records.customer_key
    left join erp_created
        on record_counts.customer_key = erp_created.customer_key
    left join activity
        on record_counts.customer_key = activity.customer_key

)

select * from final
