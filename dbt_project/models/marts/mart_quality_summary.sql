-- One row per pipeline run, layer and source: how many quality checks ran and passed, for
-- auditors to follow the pass rate over time. Built after the run's mart checks (tag
-- after_audit), so every layer of the run is in it. A suite that saw no rows checked nothing:
-- it counts in suites_without_data, not in checks, and a group with no rows has no pass rate.
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
        count(*) filter (where verdict = 'no data') as suites_without_data,
        sum(rows_checked) as rows_checked,
        coalesce(sum(evaluated) filter (where verdict <> 'no data'), 0) as checks,
        coalesce(sum(successful) filter (where verdict <> 'no data'), 0) as checks_passed,
        round(
            sum(successful) filter (where verdict <> 'no data')::numeric
            / nullif(sum(evaluated) filter (where verdict <> 'no data'), 0),
            4
        ) as pass_rate,
        sum(critical_failed) as critical_failures,
        sum(warning_failed) as warning_failures

    from validation_runs
    group by run_id, layer, source

)

select * from final
