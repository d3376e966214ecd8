-- One row per pipeline run, layer and source: how many quality checks ran and passed, for
-- auditors to follow the pass rate over time. Built after the run's mart checks (tag
-- after_audit), so every layer of the run is in it.
{{ config(tags=['after_audit', 'quality']) }}

with

validation_runs as (

    select * from {{ ref('stg_audit__validation_runs') }}

),

final as (

    select
        run_id,
        layer,
        source,
        max(as_of) as as_of,
        min(started_at) as checked_at,
        count(*) as suites,
        sum(evaluated) as checks,
        sum(successful) as checks_passed,
        round(sum(successful)::numeric / nullif(sum(evaluated), 0), 4) as pass_rate,
        sum(critical_failed) as critical_failures,
        sum(warning_failed) as warning_failures

    from validation_runs
    group by run_id, layer, source

)

select * from final
