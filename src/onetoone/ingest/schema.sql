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
    raw_record      text,
    quarantined_at  timestamptz not null default now(),
    reprocessed_at  timestamptz
);
create index if not exists quarantine_batch_idx on raw.quarantine (batch_id);

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

-- Identity resolution writes here; dbt reads it back as a source.
create schema if not exists identity;

create table if not exists identity.customer_keys (
    source            text not null,
    source_record_id  text not null,
    customer_key      text not null,
    cluster_size      integer not null,
    model_version     text not null,
    assigned_at       timestamptz not null,
    primary key (source, source_record_id)
);

-- Key history: one row per key created, merged away, split off or retired (identity.keys).
create table if not exists identity.key_events (
    event_id      bigserial primary key,
    run_id        text not null,
    occurred_at   timestamptz not null,
    event_type    text not null check (event_type in ('created', 'merged', 'split', 'retired')),
    customer_key  text not null,
    related_key   text,
    records       integer not null,
    details       jsonb not null default '{}'
);
create index if not exists key_events_customer_key on identity.key_events (customer_key);
create index if not exists key_events_related_key on identity.key_events (related_key);

-- Keys no record holds any more; never handed out again.
create table if not exists identity.retired_keys (
    customer_key  text primary key,
    retired_at    timestamptz not null,
    merged_into   text
);

-- Steward decisions, honoured on every run; records as source:source_record_id, a < b.
create table if not exists identity.overrides (
    record_a    text not null,
    record_b    text not null,
    decision    text not null check (decision in ('same', 'different')),
    decided_by  text not null,
    reason      text not null,
    decided_at  timestamptz not null default now(),
    primary key (record_a, record_b),
    check (record_a < record_b)
);

-- Uncertain pairs for stewards, with the evidence for and against; each run replaces its rows.
create table if not exists identity.review_queue (
    run_id              text not null,
    record_a            text not null,
    record_b            text not null,
    match_probability   double precision not null,
    fields_agreeing     jsonb not null,
    fields_disagreeing  jsonb not null,
    status              text not null default 'open' check (status in ('open', 'decided')),
    primary key (run_id, record_a, record_b)
);
