{#
    Helpers of the golden record (models/intermediate/int_customer_golden_values.sql).

    normalise_text: the form in which two values count as the same for the frequency rule:
    trimmed, lower case, inner whitespace collapsed, common Latin accents removed (translate()
    rather than the unaccent extension, which the warehouse need not have).
#}
{% macro normalise_text(expression) -%}
    regexp_replace(
        translate(
            lower(btrim({{ expression }})),
            'áàâãäåéèêëíìîïóòôõöúùûüçñý',
            'aaaaaaeeeeiiiiooooouuuucny'
        ),
        '\s+', ' ', 'g'
    )
{%- endmacro %}

{#
    The survivorship rules a golden record can use, each as a numeric sort key on a scored
    candidate (columns is_valid, source_trust_rank, value_frequency, source_updated_at):
    smaller is better, so a window orders by the keys of an attribute's rules in turn.
      validity   0 when the value passes the attribute's validity check, else 1
      trust      the source's rank in var source_trust_order (1 = most trusted)
      frequency  minus the number of the customer's records giving the same normalised value
      recency    minus the source record's updated_at in epoch seconds (null: last)
#}
{% macro golden_rule_names() -%}
    {{ return(['validity', 'trust', 'frequency', 'recency']) }}
{%- endmacro %}

{% macro golden_rule_sort_key(rule) -%}
    {%- if rule == 'validity' -%}
        (case when is_valid then 0 else 1 end)
    {%- elif rule == 'trust' -%}
        source_trust_rank
    {%- elif rule == 'frequency' -%}
        (-value_frequency)
    {%- elif rule == 'recency' -%}
        coalesce(-extract(epoch from source_updated_at), 'infinity'::numeric)
    {%- else -%}
        {{ exceptions.raise_compiler_error(
            "unknown golden record rule " ~ rule ~ " (known: " ~ golden_rule_names() ~ ")") }}
    {%- endif -%}
{%- endmacro %}

{# The configured rules of one attribute (var golden_record_rules), checked. #}
{% macro golden_rules_for(attribute) -%}
    {%- set rules = var('golden_record_rules').get(attribute) -%}
    {%- if not rules -%}
        {{ exceptions.raise_compiler_error(
            "var golden_record_rules has no rules for the attribute " ~ attribute) }}
    {%- endif -%}
    {%- for rule in rules -%}
        {%- if rule not in golden_rule_names() -%}
            {{ exceptions.raise_compiler_error(
                "unknown golden record rule " ~ rule ~ " for " ~ attribute
                ~ " (known: " ~ golden_rule_names() | join(', ') ~ ")") }}
        {%- endif -%}
    {%- endfor -%}
    {{ return(rules) }}
{%- endmacro %}

{# The attributes of the golden record (each has a validity check below). #}
{% macro golden_attributes() -%}
    {{ return(['first_name', 'last_name', 'birth_date', 'email', 'phone', 'address_line', 'city',
               'postcode', 'region', 'country', 'national_id']) }}
{%- endmacro %}

{#
    The attributes whose candidates are identity's standardised values
    (stg_identity__standardised_records: null when missing or invalid, phones E.164, emails
    trimmed and lower case, cities in one spelling); the others come from the source records
    as they are (int_customer_records_unioned).
#}
{% macro golden_standardised_attributes() -%}
    {{ return(['first_name', 'last_name', 'birth_date', 'email', 'phone', 'city', 'postcode',
               'national_id']) }}
{%- endmacro %}

{# The largest number of rules any attribute has in var golden_record_rules. #}
{% macro golden_max_rule_count() -%}
    {%- set counts = [] -%}
    {%- for name in golden_attributes() -%}
        {%- do counts.append(golden_rules_for(name) | length) -%}
    {%- endfor -%}
    {{ return(counts | max) }}
{%- endmacro %}

{#
    The sort key of the attribute's rule at `position` (0-based) in its rule order, as one
    expression over the columns <rule>_key of every rule: candidates of all attributes rank in
    one window. An attribute with fewer rules ties (0) at the positions it lacks.
#}
{% macro golden_rule_key_at(position, attributes) -%}
    case attribute_name
        {%- for name in attributes %}
        {%- set rules = golden_rules_for(name) %}
        when '{{ name }}' then {{ rules[position] ~ '_key' if position < rules | length else '0' }}
        {%- endfor %}
    end
{%- endmacro %}

{# The SQL type of an attribute in the golden record; candidate values are text. #}
{% macro golden_attribute_type(attribute) -%}
    {{ return('date' if attribute == 'birth_date' else 'text') }}
{%- endmacro %}

{# Whether a candidate value (text) of an attribute is valid; never null. #}
{% macro golden_value_is_valid(attribute, v) -%}
    coalesce(
    {%- if attribute == 'birth_date' %}
        {#- Identity read it as a date from 1900 on; here also before as_of and the person
            younger than 120 (the value is an ISO date), which depends on the run's as_of. #}
        {{ v }}::date >= date '1900-01-01' and {{ v }}::date < {{ as_of_date() }}
        and {{ v }}::date > {{ as_of_date() }} - interval '120 years'
    {%- elif attribute in golden_standardised_attributes() %}
        {#- Identity's standardisation is the check (onetoone.identity.standardise): it leaves
            null what it rejects, and null values are no candidates. #}
        {{ v }} is not null
    {%- elif attribute in ('region', 'country') %}
        {{ v }} ~ '[[:alpha:]]'
    {%- elif attribute == 'address_line' %}
        {{ v }} ~ '[[:alnum:]]'
    {%- else %}
        {{ exceptions.raise_compiler_error("no validity check for the attribute " ~ attribute) }}
    {%- endif %},
        false
    )
{%- endmacro %}


{#- int_customer_golden_values' pre-hook on an incremental run: delete the customers whose
    records fingerprint (int_customer_records_fingerprinted) is not the one their rows were
    built from: their records or settings changed, they are gone (merged, erased), or forget
    nulled it. A table built before the fingerprint column existed is emptied (rebuilt whole). -#}
{% macro drop_changed_golden_values() -%}
  {%- if is_incremental() -%}
    {%- set columns = adapter.get_columns_in_relation(this) | map(attribute='name') | list -%}
    {%- if 'records_fingerprint' not in columns -%}
      delete from {{ this }}
    {%- else -%}
      delete from {{ this }} as golden_values
      where not exists (
          select 1
          from {{ ref('int_customer_records_fingerprinted') }} as fingerprinted
          where fingerprinted.customer_key = golden_values.customer_key
              and fingerprinted.records_fingerprint = golden_values.records_fingerprint
      )
    {%- endif -%}
  {%- endif -%}
{%- endmacro %}
