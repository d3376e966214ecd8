{#
    Use a custom schema name as it is (`staging`, `intermediate`, `marts_build`, `snapshots`,
    `seeds`) instead of dbt's default `<target_schema>_<custom>`: the warehouse's schemas are a
    contract shared with the ingest, identity and publish tasks (docs/data-contracts.md).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
