-- The identity schema: what identity resolution writes (stable keys and their history, steward
-- overrides, the review queue); dbt reads customer_keys back as a source. Idempotent.
create schema if not exists identity;

create table if not exists identity.customer_keys (
    source            text not null,
    source_record_id  text not null,
    customer_key      text not null,
    cluster_size      integer not null,
    model_version     text not null,
    assigned_at       timestamptz not null,   -- when the run wrote it (clock): freshness reads it
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
-- 'uncertain' (probability in the review band) or, for a link above the threshold, why its
-- cluster is doubtful: 'bridge' (it alone joins two groups), 'sparse' (the weakest link).
alter table identity.review_queue
    add column if not exists reason text not null default 'uncertain'
    check (reason in ('uncertain', 'bridge', 'sparse'));

-- Graph metrics of each customer of two or more records (Splink's compute_graph_metrics at the
-- clustering threshold), replaced every run. review_reason: why the cluster may chain people.
create table if not exists identity.cluster_metrics (
    customer_key   text primary key,
    records        integer not null,
    links          integer not null,
    density        double precision not null,
    bridges        integer not null,
    review_reason  text check (review_reason in ('bridge', 'sparse')),
    run_id         text not null
);

-- Each record's standardised values, written with customer_keys (same run, same transaction):
-- the golden record's candidates, so that matching and survivorship share one rule of validity
-- per attribute (null: missing or invalid). Personal data: onetoone forget erases it.
create table if not exists identity.standardised_records (
    source            text not null,
    source_record_id  text not null,
    first_name        text,          -- as written, whitespace collapsed, accents and case kept
    last_name         text,
    birth_date        date,
    email             text,          -- trimmed, lower case, local@domain.tld
    phone             text,          -- E.164
    city              text,          -- one display spelling per city (canonical_cities)
    postcode          text,          -- digits and capitals
    national_id       text,          -- digits and capitals, placeholders removed
    address           text,          -- matching form: lower-case ASCII words, street types canonical
    surname_1         text,          -- matching form: lower-case ASCII, particles dropped
    surname_2         text,
    primary key (source, source_record_id)
);
-- The matching forms of address and surnames, which households group by (dbt
-- int_customer_households); the next identity run fills them.
alter table identity.standardised_records add column if not exists address text;
alter table identity.standardised_records add column if not exists surname_1 text;
alter table identity.standardised_records add column if not exists surname_2 text;
