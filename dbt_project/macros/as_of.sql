{#
    The business date every mart describes: events strictly before the start of this day count.

    Marts never read the clock (no now() / current_date), so rebuilding a run gives the same
    result. The DAG passes its data interval end as `--vars '{as_of: 2025-06-30}'` (a date, or an
    ISO timestamp whose first ten characters are the date). Without it the default is the day
    after the latest order date in the data, read once at run time and inlined as a literal so the
    compiled SQL shows which date was used.
#}
{% macro as_of_date() -%}
    {#- Always call ref() so that dbt records the dependency, whichever branch runs. -#}
    {%- set orders = ref('stg_erp__orders') -%}
    {%- set given = var('as_of', none) -%}
    {%- if given is not none and (given | string | trim) != '' -%}
        {%- set value = (given | string | trim)[:10] -%}
        {%- if not modules.re.match('^\d{4}-\d{2}-\d{2}$', value) -%}
            {{ exceptions.raise_compiler_error("var as_of must be a date (YYYY-MM-DD), got: " ~ given) }}
        {%- endif -%}
    {%- elif execute and load_relation(orders) is none -%}
        {#- Compiling without a built staging layer (e.g. docs generate on an empty database):
            the SQL cannot run anyway, any date will do. -#}
        {%- set value = '1970-01-01' -%}
    {%- elif execute -%}
        {%- set query -%}
            select to_char(
                (max(ordered_at at time zone '{{ var("warehouse_timezone") }}'))::date + 1,
                'YYYY-MM-DD'
            )
            from {{ orders }}
        {%- endset -%}
        {%- set value = run_query(query).columns[0].values()[0] -%}
        {%- if value is none -%}
            {{ exceptions.raise_compiler_error("as_of is not set and there are no orders to default it from") }}
        {%- endif -%}
    {%- else -%}
        {#- Parsing: any valid date will do, the SQL is not run. -#}
        {%- set value = '1970-01-01' -%}
    {%- endif -%}
    date '{{ value }}'
{%- endmacro %}

{# The start of the as_of day as a timestamptz, for comparisons with event timestamps. #}
{% macro as_of_timestamp() -%}
    ({{ as_of_date() }}::timestamp at time zone '{{ var("warehouse_timezone") }}')
{%- endmacro %}

{# The start of the trailing value window: `value_window_months` before as_of. #}
{% macro value_window_start_timestamp() -%}
    (({{ as_of_date() }} - interval '{{ var("value_window_months") }} months')::timestamp
        at time zone '{{ var("warehouse_timezone") }}')
{%- endmacro %}
