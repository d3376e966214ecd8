{#
    Makes a snapshot rerun idempotent: before taking the snapshot of a business date, forget
    whatever an earlier run of that date (or a later one) recorded, reopening the versions it
    closed. A rerun of the same interval then leaves the same history, even if the data for that
    date were corrected in between. Versions of earlier dates are untouched.
#}
{% macro rewind_snapshot(valid_from) -%}
    {%- set existing = adapter.get_relation(this.database, this.schema, this.identifier) -%}
    {%- if existing is not none -%}
        delete from {{ this }} where dbt_valid_from >= ({{ valid_from }})::timestamp;
        update {{ this }} set dbt_valid_to = null where dbt_valid_to >= ({{ valid_from }})::timestamp
    {%- else -%}
        select 1
    {%- endif -%}
{%- endmacro %}
