{#-
  Views are replaced in place. dbt's own view materialization builds the new view aside, renames
  the old one to a backup and, after committing, drops that backup with CASCADE: every view built
  on it (the intermediate views on the staging ones) is dropped with it and comes back only when
  its own model runs again, so a run killed in between (each model is a task of its own) left
  them missing until the next run. Here the view is replaced by CREATE OR REPLACE VIEW in the
  model's one transaction, and the views on it keep working throughout.

  PostgreSQL replaces a view only when the new query keeps the old columns (names, types and
  collations, in order; new ones may follow at the end). When it does not (a model's columns
  changed), and for a first build, dbt's own materialization runs.
-#}
{%- materialization view, adapter='postgres' -%}
  {%- set existing_relation = load_cached_relation(this) -%}
  {%- if existing_relation is none or not existing_relation.is_view
        or not onetoone_view_keeps_columns(existing_relation, sql) -%}
    {{ return(materialization_view_default()) }}
  {%- endif -%}

  {%- set target_relation = this.incorporate(type='view') -%}
  {%- set grant_config = config.get('grants') -%}
  {%- set sql_header = config.get('sql_header', none) -%}

  {{ run_hooks(pre_hooks, inside_transaction=False) }}
  -- `BEGIN` happens here:
  {{ run_hooks(pre_hooks, inside_transaction=True) }}

  {% call statement('main') -%}
    {{ sql_header if sql_header is not none }}
    create or replace view {{ target_relation.render() }}
    {%- if config.get('contract').enforced %} {{ get_assert_columns_equivalent(sql) }}{% endif %}
    as (
      {{ sql }}
    );
  {%- endcall %}

  {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
  {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
  {% do persist_docs(target_relation, model) %}

  {{ run_hooks(post_hooks, inside_transaction=True) }}
  {{ adapter.commit() }}
  {{ run_hooks(post_hooks, inside_transaction=False) }}

  {{ return({'relations': [target_relation]}) }}
{%- endmaterialization -%}


{#- Whether CREATE OR REPLACE VIEW can take the model's query over the existing view: the
    query's columns, read from a temporary view of it, start with the existing view's columns
    (same names, types and collations, in the same order). -#}
{%- macro onetoone_view_keeps_columns(existing_relation, sql) -%}
  {%- set probe = 'onetoone_probe_' ~ existing_relation.identifier -%}
  {%- call statement('onetoone_view_probe') -%}
    create or replace temporary view {{ adapter.quote(probe) }} as (
      {{ sql }}
    );
  {%- endcall -%}
  {%- set changed = run_query(
      "with old as (select attnum, attname, atttypid, atttypmod, attcollation"
      " from pg_attribute where attrelid = '" ~ existing_relation.render() ~ "'::regclass"
      " and attnum > 0 and not attisdropped),"
      " new as (select attnum, attname, atttypid, atttypmod, attcollation"
      " from pg_attribute where attrelid = 'pg_temp." ~ adapter.quote(probe) ~ "'::regclass"
      " and attnum > 0 and not attisdropped)"
      " select count(*) from old left join new using (attnum)"
      " where (old.attname, old.atttypid, old.atttypmod, old.attcollation)"
      " is distinct from (new.attname, new.atttypid, new.atttypmod, new.attcollation)") -%}
  {%- call statement('onetoone_view_probe_drop') -%}
    drop view if exists pg_temp.{{ adapter.quote(probe) }};
  {%- endcall -%}
  {%- do adapter.commit() -%}
  {{ return(changed.columns[0].values()[0] == 0) }}
{%- endmacro -%}
