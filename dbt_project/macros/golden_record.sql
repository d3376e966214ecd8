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

{#
    Whether a candidate value (text) of an attribute is valid; never null. The attributes of the
    golden record are the keys of this check list.
#}
{% macro golden_attributes() -%}
    {{ return(['first_name', 'last_name', 'birth_date', 'email', 'phone', 'address_line', 'city',
               'postcode', 'region', 'country', 'national_id']) }}
{%- endmacro %}

{# The SQL type of an attribute in the golden record; candidate values are text. #}
{% macro golden_attribute_type(attribute) -%}
    {{ return('date' if attribute == 'birth_date' else 'text') }}
{%- endmacro %}

{% macro golden_value_is_valid(attribute, v) -%}
    {%- set alnum = "regexp_replace(" ~ v ~ ", '[^[:alnum:]]', '', 'g')" -%}
    coalesce(
    {%- if attribute in ('first_name', 'last_name') %}
        {#- A name: has a letter, and is not only digits, spaces and punctuation. #}
        {{ v }} ~ '[[:alpha:]]' and {{ v }} !~ '^[0-9[:space:][:punct:]]+$'
    {%- elif attribute == 'birth_date' %}
        {#- Between 1900 and as_of, the person younger than 120 (the value is an ISO date). #}
        {{ v }}::date >= date '1900-01-01' and {{ v }}::date < {{ as_of_date() }}
        and {{ v }}::date > {{ as_of_date() }} - interval '120 years'
    {%- elif attribute == 'email' %}
        btrim({{ v }}) ~* '^[a-z0-9._%+''-]+@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$'
    {%- elif attribute == 'phone' %}
        length(regexp_replace({{ v }}, '\D', '', 'g')) between 8 and 15
    {%- elif attribute == 'national_id' %}
        {#- At least 5 letters or digits, not one repeated character, not a counting sequence. #}
        length({{ alnum }}) >= 5 and {{ alnum }} !~ '^(.)\1*$'
        and {{ alnum }} not in ('123456789', '1234567890', '0123456789', '987654321')
    {%- elif attribute in ('city', 'region', 'country') %}
        {{ v }} ~ '[[:alpha:]]'
    {%- elif attribute in ('address_line', 'postcode') %}
        {{ v }} ~ '[[:alnum:]]'
    {%- else %}
        {{ exceptions.raise_compiler_error("no validity check for the attribute " ~ attribute) }}
    {%- endif %},
        false
    )
{%- endmacro %}
