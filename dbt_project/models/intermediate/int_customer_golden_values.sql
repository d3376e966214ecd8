-- One row per customer_key x attribute: the golden value of the attribute and the source record
-- it came from. Survivorship: every non-null value of the customer's source records is a
-- candidate, scored by validity, source trust, frequency and recency; per attribute the ordered
-- rules of var golden_record_rules decide (see macros/golden_record.sql and the model's YAML),
-- source and source_record_id breaking the last ties. A table: it holds personal values, and
-- forget (src/onetoone/forget.py) erases the person's rows in it.
{{ config(materialized='table', tags=['identity']) }}

{%- set attributes = golden_attributes() %}

with

customer_records as (

    select * from {{ ref('int_customer_records_unioned') }}

),

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}

),

keyed_records as (

    select
        customer_keys.customer_key,
        customer_records.*,
        {{ source_trust_rank('customer_records.source') }} as source_trust_rank

    from customer_records
    inner join customer_keys
        on customer_records.source = customer_keys.source
        and customer_records.source_record_id = customer_keys.source_record_id

),

candidates as (

    select
        keyed_records.customer_key,
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

{#- Each attribute ranks its candidates by its own rules: one select per attribute. #}
ranked as (
    {%- for name in attributes %}
    {%- set rules = golden_rules_for(name) %}

    select
        *,
        '{{ rules | join(" > ") }}'::text as rule_order,
        {%- for rule in golden_rule_names() %}
        {{ golden_rule_sort_key(rule) }} as {{ rule }}_key,
        {%- endfor %}
        row_number() over (
            partition by customer_key
            order by
                {%- for rule in rules %}
                {{ golden_rule_sort_key(rule) }} nulls last,
                {%- endfor %}
                source,
                source_record_id
        ) as candidate_rank

    from scored
    where attribute_name = '{{ name }}'
    {%- if not loop.last %}

    union all
    {%- endif %}
    {%- endfor %}

),

{#- The runner-up: the best candidate of the second-best distinct (normalised) value. #}
value_ranked as (

    select
        *,
        row_number() over (
            partition by customer_key, attribute_name, normalised_value
            order by candidate_rank
        ) as rank_within_value

    from ranked

),

best_per_value as (

    select
        *,
        row_number() over (
            partition by customer_key, attribute_name
            order by candidate_rank
        ) as value_rank,
        count(*) over (partition by customer_key, attribute_name) as distinct_value_count

    from value_ranked
    where rank_within_value = 1

),

winners as (

    select * from best_per_value where value_rank = 1

),

runners_up as (

    select * from best_per_value where value_rank = 2

),

final as (

    select
        winners.customer_key,
        winners.attribute_name,
        winners.attribute_value,
        winners.source,
        winners.source_record_id,
        winners.source_updated_at,
        winners.candidate_count,
        winners.distinct_value_count,
        winners.value_frequency,
        winners.is_valid,
        winners.rule_order,
        case
            when runners_up.customer_key is null then 'single_value'
            {%- for name in attributes %}
            {%- for rule in golden_rules_for(name) %}
            when winners.attribute_name = '{{ name }}'
                and winners.{{ rule }}_key is distinct from runners_up.{{ rule }}_key
                then '{{ rule }}'
            {%- endfor %}
            {%- endfor %}
            else 'tie_break'
        end as decided_by

    from winners
    left join runners_up
        on winners.customer_key = runners_up.customer_key
        and winners.attribute_name = runners_up.attribute_name

)

select * from final
