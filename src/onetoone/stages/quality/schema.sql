-- The audit schema's quality results: every expectation result of every run, for auditors.
-- Owned by the quality stage; the erasure registry shares the schema (foundation/erasures.sql).
-- Idempotent.
create schema if not exists audit;

create table if not exists audit.validation_runs (
    run_id           text not null,
    layer            text not null,
    suite            text not null,
    data_asset       text not null,             -- the table validated
    as_of            timestamptz not null,      -- the run's reference time for date rules
    batch_ids        bigint[],                  -- raw batches validated; null = whole table
    started_at       timestamptz not null,
    success          boolean not null,          -- GX's verdict: every expectation passed
    evaluated        integer not null,
    successful       integer not null,
    unsuccessful     integer not null,
    critical_failed  integer not null,
    warning_failed   integer not null,
    data_docs_path   text,                      -- the validation's Data Docs page
    primary key (run_id, layer, suite)
);
-- Rows the suite's query returned: a suite that saw none checked nothing, whatever GX says
-- (its rules pass vacuously on zero rows), so its verdict is 'no data', never 'passed'.
alter table audit.validation_runs add column if not exists rows_checked bigint;
alter table audit.validation_runs add column if not exists verdict text
    generated always as (case when rows_checked = 0 then 'no data'
                              when success then 'passed' else 'failed' end) stored;

create table if not exists audit.expectation_results (
    result_id                bigserial primary key,
    run_id                   text not null,
    layer                    text not null,
    suite                    text not null,
    data_asset               text not null,
    expectation_type         text not null,
    column_name              text,
    severity                 text not null,     -- critical | warning
    why                      text,
    success                  boolean not null,
    observed_value           jsonb,
    element_count            bigint,
    unexpected_count         bigint,
    unexpected_percent       double precision,
    partial_unexpected_list  jsonb,             -- a sample of failing values
    kwargs                   jsonb not null,    -- the rule as evaluated (parameters resolved)
    exception_message        text,
    recorded_at              timestamptz not null default now()
);
create index if not exists expectation_results_run_idx
    on audit.expectation_results (run_id, layer);

-- The load ledger for auditors, who cannot read raw: per batch, read = loaded + quarantined.
-- A view runs with its owner's rights (the pipeline's user, who migrates), so the auditor role
-- reads these columns of raw.load_batches without any grant on raw. Left out: the message and
-- the CSV header, which may quote delivered text.
create or replace view audit.load_ledger as
select batch_id,
       run_id,
       source,
       entity,
       source_ref,
       checksum,
       window_start,
       window_end,
       status,
       rows_read,
       rows_loaded,
       rows_quarantined,
       rows_read = rows_loaded + rows_quarantined as reconciled,
       started_at,
       finished_at,
       raw_gate_passed,
       raw_gate_run_id
  from raw.load_batches;
comment on view audit.load_ledger is
    'Every load batch: rows read = rows loaded + rows quarantined (reconciled), and the raw'
    ' quality gate''s verdict. No personal data.';

-- dbt's tests, one row per test per run (from each dbt invocation's run_results.json), for
-- auditors. Keyed by the run (its business day, like audit.validation_runs): the daily DAG runs
-- each model and its tests as one dbt invocation, and rerunning the day replaces each test's row.
-- The message is kept only in dbt's own summary form ("Got 3 results, configured to fail if
-- != 0"); other messages (errors) can quote data and are withheld.
create table if not exists audit.dbt_test_results (
    run_id          text not null,             -- interval__<day>
    as_of           timestamptz not null,      -- the run's reference time
    unique_id       text not null,             -- test.<project>.<name>.<hash>
    invocation_id   text not null,             -- the dbt invocation that ran it
    status          text not null,             -- pass | fail | warn | error | skipped
    failures        bigint,                    -- rows the test found
    message         text,
    execution_time  double precision,          -- seconds
    completed_at    timestamptz,
    generated_at    timestamptz not null,      -- when dbt wrote run_results.json
    recorded_at     timestamptz not null default now(),
    primary key (run_id, unique_id)
);
-- The first layout was keyed by dbt's invocation only; nothing in the pipeline wrote it, so a
-- warehouse created then is re-keyed in place (its rows, if any, keep their invocation as run).
do $$
begin
    if not exists (select 1 from information_schema.columns where table_schema = 'audit'
                   and table_name = 'dbt_test_results' and column_name = 'run_id') then
        alter table audit.dbt_test_results
            add column run_id text, add column as_of timestamptz;
        update audit.dbt_test_results set run_id = invocation_id, as_of = generated_at;
        alter table audit.dbt_test_results
            alter column run_id set not null,
            alter column as_of set not null,
            drop constraint dbt_test_results_pkey,
            add primary key (run_id, unique_id);
    end if;
end
$$;
