-- One row per customer_key x attribute: the golden value of the attribute and the source record
-- it came from. Survivorship: every value of the customer's source records is a candidate,
-- scored by validity, source trust, frequency and recency; per attribute the ordered rules of
-- var golden_record_rules decide (see macros/golden_record.sql and the model's YAML), source and
-- source_record_id breaking the last ties. The standardised attributes (golden_standardised_
-- attributes()) take identity's standardised values, so a value identity rejects (a placeholder
-- phone, an email without domain) is no candidate and phones are E.164, cities one spelling.
-- A table: it holds personal values, and forget (src/onetoone/operations/forget.py) erases the
-- person's rows in it.
--
-- Linear in the candidates: every step is a sort-based window over them (no self-join), and the
-- runner-up's rule keys come from lead() over the distinct values in rank order.
--
-- Incremental by customer: each customer's rows keep the fingerprint of what they were chosen
-- from (int_customer_records_fingerprinted: the customer's records, their standardised values,
-- the survivorship settings). A daily run first deletes the customers whose fingerprint changed
-- or who are gone (a new record, a changed one, a merge or split, an erasure: forget nulls the
-- fingerprint too), then builds every customer it does not hold. After a change to this model's
-- logic or its macros, rebuild it: dbt build --full-refresh -s int_customer_golden_values.
{{ config(
    materialized='incremental',
    unique_key=['customer_key', 'attribute_name'],
    on_schema_change='append_new_columns',
    pre_hook="{{ drop_changed_golden_values() }}",
    tags=['identity'],
) }}

{%- set attributes = golden_attributes() %}
{%- set standardised = golden_standardised_attributes() %}

with

customer_records as (

    select * from {{ ref('int_customer_records_unioned') }}

),

standardised_records as (

    select * from {{ ref('stg_identity__standardised_records') }}

),

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}
    {%- if is_incremental() %}
    -- the customers the pre-hook deleted, and the new ones
    where customer_key not in (select customer_key from {{ this }})
    {%- endif %}

),

fingerprints as (

    select * from {{ ref('int_customer_records_fingerprinted') }}
    {%- if is_incremental() %}
    where customer_key not in (select customer_key from {{ this }})
    {%- endif %}

),

keyed_records as (

    select
        customer_keys.customer_key,
        fingerprints.records_fingerprint,
        customer_records.source,
        customer_records.source_record_id,
        customer_records.updated_at,
        {%- for name in attributes %}
        {{ 'standardised_records' if name in standardised else 'customer_records' }}.{{ name }},
        {%- endfor %}
        {{ source_trust_rank('customer_records.source') }} as source_trust_rank

    from customer_records
    inner join customer_keys
        on customer_records.source = customer_keys.source
        and customer_records.source_record_id = customer_keys.source_record_id
    {#- Joined here, not to the few winners at the end: the planner expects one or two of
        those and picks a nested loop over all fingerprints (65 s at 10,000 customers). #}
    inner join fingerprints
        on customer_keys.customer_key = fingerprints.customer_key
    left join standardised_records
        on customer_records.source = standardised_records.source
        and customer_records.source_record_id = standardised_records.source_record_id

),

candidates as (

    select
        keyed_records.customer_key,
        keyed_records.records_fingerprint,
        attribute.attribute_name,
        attribute.attribute_value,
        {{ normalise_text('attribute.attribute_value') }} as normalised_value,
        keyed_records.source,
        keyed_records.source_record_id,
        keyed_records.updated_at as source_updated_at,
        keyed_records.source_trust_rank

    from keyed_records
    cross join lateral (
        values
        {%- for name in attributes %}
            ('{{ name }}', keyed_records.{{ name }}::text){% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as attribute (attribute_name, attribute_value)
    where attribute.attribute_value is not null

),

scored as (

    select
        *,
        case attribute_name
            {%- for name in attributes %}
            when '{{ name }}' then {{ golden_value_is_valid(name, 'attribute_value') }}
            {%- endfor %}
        end as is_valid,
        count(*) over (
            partition by customer_key, attribute_name, normalised_value
        ) as value_frequency,
        count(*) over (partition by customer_key, attribute_name) as candidate_count

    from candidates

),

{#- Every rule's sort key on every candidate; each attribute orders by its own rules. #}
rule_keys as (

    select
        *,
        {%- for rule in golden_rule_names() %}
        {{ golden_rule_sort_key(rule) }} as {{ rule }}_key{% if not loop.last %},{% endif %}
        {%- endfor %}

    from scored

),

ranked as (

    select
        *,
        case attribute_name
            {%- for name in attributes %}
            when '{{ name }}' then '{{ golden_rules_for(name) | join(" > ") }}'
            {%- endfor %}
        end as rule_order,
        row_number() over (
            partition by customer_key, attribute_name
            order by
                {%- for position in range(golden_max_rule_count()) %}
                {{ golden_rule_key_at(position, attributes) }},
                {%- endfor %}
                source,
                source_record_id
        ) as candidate_rank

    from rule_keys

),

{#- The best candidate of each distinct (normalised) value. #}
best_per_value as (

    select *
    from (
        select
            *,
            row_number() over (
                partition by customer_key, attribute_name, normalised_value
                order by candidate_rank
            ) as rank_within_value

        from ranked
    ) as per_value
    where rank_within_value = 1

),

{#- The distinct values in rank order; the runner-up is the next one (lead). #}
value_ranked as (

    select
        *,
        row_number() over values_in_rank_order as value_rank,
        count(*) over (partition by customer_key, attribute_name) as distinct_value_count,
        {%- for rule in golden_rule_names() %}
        lead({{ rule }}_key) over values_in_rank_order as runner_up_{{ rule }}_key{% if not loop.last %},{% endif %}
        {%- endfor %}

    from best_per_value
    window values_in_rank_order as (
        partition by customer_key, attribute_name
        order by candidate_rank
    )

),

final as (

    select
        customer_key,
        attribute_name,
        attribute_value,
        source,
        source_record_id,
        source_updated_at,
        candidate_count,
        distinct_value_count,
        value_frequency,
        is_valid,
        rule_order,
        case
            when distinct_value_count = 1 then 'single_value'
            {%- for name in attributes %}
            {%- for rule in golden_rules_for(name) %}
            when attribute_name = '{{ name }}'
                and {{ rule }}_key is distinct from runner_up_{{ rule }}_key
                then '{{ rule }}'
            {%- endfor %}
            {%- endfor %}
            else 'tie_break'
        end as decided_by,
        records_fingerprint

    from value_ranked
    where value_rank = 1

)

select * from final
