-- One row per pipeline run, layer and source: how many quality checks ran and passed, for
-- auditors to follow the pass rate over time. Built after the run's mart checks (tag
-- after_audit), so every layer of the run is in it. Great Expectations' layers (raw, identity,
-- marts) count expectations; layer dbt counts dbt's tests of the run's dbt tasks before the
-- after-audit group (each test one check; a skipped test did not run, so it counts in
-- checks_skipped, not in checks). The after-audit group's own tests, this model's among them,
-- are kept in audit.dbt_test_results but not counted here: they run after this model is built,
-- so counting them would make a rerun of the day differ from its first run. A
-- suite that saw no rows checked nothing: it counts in suites_without_data, not in checks, and a
-- group with no rows has no pass rate.
{{ config(tags=['after_audit', 'quality']) }}

with

validation_runs as (

    select * from {{ ref('stg_audit__validation_runs') }}

),

{#- The tests of nodes tagged after_audit: they run after this model. #}
{%- set after_audit_tests = [] %}
{#- A unit test compiles this model without the project's graph. #}
{%- set nodes = graph.get('nodes', {}) if execute else {} %}
{%- if nodes %}
{%- for node in nodes.values() if node.resource_type == 'test' %}
{%- for parent in node.depends_on.nodes if parent in nodes
        and 'after_audit' in nodes[parent].tags %}
{%- do after_audit_tests.append(node.unique_id) %}
{%- endfor %}
{%- endfor %}
{%- endif %}

dbt_test_results as (

    select * from {{ ref('stg_audit__dbt_test_results') }}
    {%- if after_audit_tests %}
    where test_id not in (
        {%- for test_id in after_audit_tests | unique | sort %}
        '{{ test_id }}'{% if not loop.last %},{% endif %}
        {%- endfor %}
    )
    {%- endif %}

),

expectation_groups as (

    select
        run_id,
        layer,
        source,
        max(as_of) as as_of,
        min(started_at) as checked_at,
        count(*) as suites,
        count(*) filter (where verdict = 'no data') as suites_without_data,
        -- A sum of bigint is numeric in PostgreSQL; a count of rows stays bigint.
        sum(rows_checked)::bigint as rows_checked,
        coalesce(sum(evaluated) filter (where verdict <> 'no data'), 0) as checks,
        coalesce(sum(successful) filter (where verdict <> 'no data'), 0) as checks_passed,
        0::bigint as checks_skipped,
        sum(critical_failed) as critical_failures,
        sum(warning_failed) as warning_failures

    from validation_runs
    group by run_id, layer, source

),

dbt_test_groups as (

    select
        run_id,
        'dbt' as layer,
        'dbt' as source,
        max(as_of) as as_of,
        min(completed_at) as checked_at,
        count(*) as suites,
        0::bigint as suites_without_data,
        null::bigint as rows_checked,
        count(*) filter (where has_run) as checks,
        count(*) filter (where status = 'pass') as checks_passed,
        count(*) filter (where not has_run) as checks_skipped,
        count(*) filter (where status in ('fail', 'error')) as critical_failures,
        count(*) filter (where status = 'warn') as warning_failures

    from dbt_test_results
    group by run_id

),

check_groups as (

    select * from expectation_groups
    union all
    select * from dbt_test_groups

),

final as (

    select
        run_id,
        layer,
        source,
        as_of,
        checked_at,
        suites,
        suites_without_data,
        rows_checked,
        checks,
        checks_passed,
        checks_skipped,
        round(checks_passed::numeric / nullif(checks, 0), 4) as pass_rate,
        critical_failures,
        warning_failures

    from check_groups

)

select * from final
