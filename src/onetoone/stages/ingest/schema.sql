-- The raw layer: validated rows as the sources gave them, the batch ledger and the quarantine.
-- Idempotent: safe to run before every load.
create schema if not exists raw;

create table if not exists raw.load_batches (
    batch_id          bigserial primary key,
    source            text not null,           -- erp | callcenter | web
    entity            text not null,           -- calls, events, customers, ...
    source_ref        text not null,           -- file path, or the ERP table and window
    checksum          text,                    -- sha256 of a file's bytes
    window_start      timestamptz,
    window_end        timestamptz,
    rows_read         bigint not null default 0,
    rows_loaded       bigint not null default 0,
    rows_quarantined  bigint not null default 0,
    status            text not null,           -- running | loaded | failed | refused
    message           text,
    started_at        timestamptz not null default now(),
    finished_at       timestamptz,
    run_id            text,
    csv_header        text,                    -- a CSV file's header line, to re-parse its rows
    -- The raw quality gate's verdict on this batch (null: not checked yet). A batch that failed
    -- or was never checked is checked again by every run until it passes, so a retried run
    -- that skips an unchanged file cannot let rows the gate rejected through.
    raw_gate_passed   boolean,
    raw_gate_run_id   text,
    unique (source, entity, source_ref)
);

create table if not exists raw.quarantine (
    quarantine_id   bigserial primary key,
    batch_id        bigint not null references raw.load_batches (batch_id) on delete cascade,
    source          text not null,
    entity          text not null,
    source_file     text,
    line_number     bigint,
    field           text,
    reason          text not null,
    raw_record      text,                  -- the line (ERP: the row as JSON) as delivered
    quarantined_at  timestamptz not null default now(),
    -- Re-processing (onetoone.stages.ingest.quarantine). A row is open until re-processing loads it;
    -- it is never deleted by that, only by a rerun or re-delivery that replaces its batch.
    reprocessed_at     timestamptz,        -- when re-processing loaded it into raw
    reprocessed_by     text,
    reprocessing_id    bigint,             -- raw.quarantine_reprocessings: why and how
    raw_record_exact   boolean not null default true,  -- false: escaped bytes or a cut line
    corrected_record   text,               -- an engineer's correction, when one was imported
    -- The record within its batch, the same on every rerun ("line 7"; an ERP row's key
    -- "order_id=O1, line_number=2"): a rerun keeps the quarantine_id and the correction.
    record_key         text
);
create index if not exists quarantine_batch_idx on raw.quarantine (batch_id);

-- One row per `onetoone quarantine reprocess`: who asked, for which fix, and what came of it.
create table if not exists raw.quarantine_reprocessings (
    reprocessing_id         bigserial primary key,
    started_at              timestamptz not null default now(),
    requested_by            text not null,
    reason                  text not null,      -- the fix that was made (ticket, release, ...)
    method                  text not null,      -- stored text | corrections from <file>
    batch_ids               bigint[] not null default '{}',
    rows_attempted          integer not null default 0,
    rows_loaded             integer not null default 0,
    rows_still_quarantined  integer not null default 0,
    rows_skipped            integer not null default 0,  -- not re-processable as they stand
    status                  text not null,      -- running | applied | reverted
    quality_run_id          text,               -- its raw checks in audit.validation_runs
    message                 text
);

-- Every attempt on every row, kept when a re-delivered file replaces the quarantine rows.
create table if not exists raw.quarantine_attempts (
    reprocessing_id  bigint not null references raw.quarantine_reprocessings (reprocessing_id),
    quarantine_id    bigint not null,
    outcome          text not null check (outcome in ('loaded', 'still_quarantined')),
    used_correction  boolean not null,
    reason_before    text not null,
    primary key (reprocessing_id, quarantine_id)
);

create table if not exists raw.callcenter_calls (
    call_id           text,
    called_at         timestamp,
    contact_id        text,
    caller_name       text,
    phone             text,
    email             text,
    reason            text,
    duration_seconds  integer,
    satisfaction      smallint,
    is_complaint      boolean,
    resolution        text,
    agent_id          text,
    _batch_id         bigint not null,
    _source_file      text not null,
    _line_number      integer not null
);
create index if not exists callcenter_calls_batch_idx on raw.callcenter_calls (_batch_id);

create table if not exists raw.web_events (
    event_id      text,
    event_type    text,
    occurred_at   timestamptz,
    account_id    text,
    session_id    text,
    payload       jsonb not null,
    _batch_id     bigint not null,
    _source_file  text not null,
    _line_number  integer not null
);
create index if not exists web_events_batch_idx on raw.web_events (_batch_id);

create table if not exists raw.erp_customers (
    customer_id    text,
    first_name     text,
    last_name      text,
    tax_id         text,
    email          text,
    phone          text,
    address_line   text,
    city           text,
    region         text,
    postcode       text,
    country        text,
    birth_date     date,
    created_at     timestamptz,
    updated_at     timestamptz,
    _batch_id      bigint not null,
    _extracted_at  timestamptz not null
);
create index if not exists erp_customers_batch_idx on raw.erp_customers (_batch_id);

create table if not exists raw.erp_products (
    product_id     text,
    product_name   text,
    category       text,
    unit_cost      numeric(12, 2),
    unit_price     numeric(12, 2),
    updated_at     timestamptz,
    _batch_id      bigint not null,
    _extracted_at  timestamptz not null
);
create index if not exists erp_products_batch_idx on raw.erp_products (_batch_id);

create table if not exists raw.erp_orders (
    order_id       text,
    customer_id    text,
    ordered_at     timestamptz,
    channel        text,
    status         text,
    updated_at     timestamptz,
    _batch_id      bigint not null,
    _extracted_at  timestamptz not null
);
create index if not exists erp_orders_batch_idx on raw.erp_orders (_batch_id);

create table if not exists raw.erp_order_lines (
    order_id       text,
    line_number    integer,
    product_id     text,
    quantity       integer,
    unit_price     numeric(12, 2),
    unit_cost      numeric(12, 2),
    discount       numeric(12, 2),
    updated_at     timestamptz,
    _batch_id      bigint not null,
    _extracted_at  timestamptz not null
);
create index if not exists erp_order_lines_batch_idx on raw.erp_order_lines (_batch_id);

-- Columns added after the first layout, added to a warehouse created before them. Checked first:
-- `alter table` locks the table even when the column exists, and this runs before every load.
do $$
declare
    wanted constant text[] := array[
        'load_batches', 'csv_header', 'text',
        'load_batches', 'raw_gate_passed', 'boolean',
        'load_batches', 'raw_gate_run_id', 'text',
        'quarantine', 'reprocessed_by', 'text',
        'quarantine', 'reprocessing_id', 'bigint',
        'quarantine', 'raw_record_exact', 'boolean not null default true',
        'quarantine', 'corrected_record', 'text',
        -- every raw data table: the quarantine row a re-processed row came from
        'callcenter_calls', '_quarantine_id', 'bigint',
        'web_events', '_quarantine_id', 'bigint',
        'erp_customers', '_quarantine_id', 'bigint',
        'erp_products', '_quarantine_id', 'bigint',
        'erp_orders', '_quarantine_id', 'bigint',
        'erp_order_lines', '_quarantine_id', 'bigint'];
    data_tables constant text[] := array['callcenter_calls', 'web_events', 'erp_customers',
                                         'erp_products', 'erp_orders', 'erp_order_lines'];
    data_table text;
begin
    for i in 1 .. array_length(wanted, 1) by 3 loop
        if not exists (select 1 from information_schema.columns where table_schema = 'raw'
                       and table_name = wanted[i] and column_name = wanted[i + 1]) then
            execute format('alter table raw.%I add column %I %s',
                           wanted[i], wanted[i + 1], wanted[i + 2]);
        end if;
    end loop;
    -- _loaded_at: when the row was written to raw (the wall clock, by its default), which is
    -- what source freshness measures; the rows' own times (called_at, occurred_at, ERP
    -- _extracted_at = the window's end) are business times. Rows loaded before the column
    -- existed get their batch's finish time from the ledger.
    foreach data_table in array data_tables loop
        if not exists (select 1 from information_schema.columns where table_schema = 'raw'
                       and table_name = data_table and column_name = '_loaded_at') then
            execute format('alter table raw.%I add column _loaded_at timestamptz', data_table);
            execute format('update raw.%I t set _loaded_at = coalesce(b.finished_at, b.started_at)'
                           ' from raw.load_batches b where b.batch_id = t._batch_id',
                           data_table);
            execute format('update raw.%I set _loaded_at = now() where _loaded_at is null',
                           data_table);
            execute format('alter table raw.%I alter column _loaded_at set default now(),'
                           ' alter column _loaded_at set not null', data_table);
        end if;
    end loop;
end
$$;

-- Quarantine rows written before record_key: a file's by line, an ERP row's by the key in its
-- stored JSON (as erp.record_key writes it), anything else by its id (it will not match again).
do $$
begin
    if not exists (select 1 from information_schema.columns where table_schema = 'raw'
                   and table_name = 'quarantine' and column_name = 'record_key') then
        alter table raw.quarantine add column record_key text;
        update raw.quarantine q set record_key = k.record_key
          from (select quarantine_id, base || case when n > 1 then ' #' || n else '' end
                       as record_key
                  from (select quarantine_id, base, row_number() over (
                                   partition by batch_id, base order by quarantine_id) as n
                          from (select quarantine_id, batch_id, coalesce(case
                                  when source <> 'erp' and line_number is not null
                                      then 'line ' || line_number
                                  when source = 'erp' and pg_input_is_valid(raw_record, 'jsonb')
                                      then case entity
                                          when 'customers' then 'customer_id='
                                              || (raw_record::jsonb ->> 'customer_id')
                                          when 'products' then 'product_id='
                                              || (raw_record::jsonb ->> 'product_id')
                                          when 'orders' then 'order_id='
                                              || (raw_record::jsonb ->> 'order_id')
                                          when 'order_lines' then 'order_id='
                                              || (raw_record::jsonb ->> 'order_id')
                                              || ', line_number='
                                              || (raw_record::jsonb ->> 'line_number')
                                      end
                                  end, 'quarantine ' || quarantine_id) as base
                                  from raw.quarantine) b) numbered) k
         where q.quarantine_id = k.quarantine_id;
    end if;
end
$$;
create unique index if not exists quarantine_record_idx on raw.quarantine (batch_id, record_key);
