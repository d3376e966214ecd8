{#-
  Every table model is analysed as soon as it is built (a post-hook of every model, in
  dbt_project.yml). PostgreSQL gathers a new table's statistics only when autovacuum gets to it,
  which is often after the model's tests and the next models have been planned without them: on
  the 10,000-customer bench the tests of int_customer_households (a view over the freshly built
  int_customer_golden_values) took 164 s with a plan that estimated 882 rows for 7,175, against
  0.5 s once the table was analysed. Views have no statistics of their own: nothing to do.
-#}
{% macro analyze_built_table() -%}
  {%- if config.get('materialized') in ('table', 'incremental') -%}
    analyze {{ this }}
  {%- endif -%}
{%- endmacro %}
