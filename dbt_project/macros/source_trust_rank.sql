{#
    Rank of a source system for golden-record tie-breaks, 1 = most trusted, from the var
    `source_trust_order` (default erp, web, callcenter). Unknown sources rank last.
#}
{% macro source_trust_rank(source_column) -%}
    {%- set order = var('source_trust_order') -%}
    coalesce(
        array_position(
            array[{% for s in order %}'{{ s }}'{% if not loop.last %}, {% endif %}{% endfor %}]::text[],
            {{ source_column }}::text
        ),
        {{ order | length + 1 }}
    )
{%- endmacro %}
