-- The registry of erased people (right to be forgotten), in the auditors' schema. Every load
-- honours it (stages/ingest/scrub.py); `onetoone forget` fills it. Idempotent.
create schema if not exists audit;

create table if not exists audit.erasures (
    erasure_id           bigserial primary key,
    erased_at            timestamptz not null default now(),
    requested_by         text not null,
    reason               text not null,
    requested_with       text not null,     -- customer_key | email
    customer_key_hashes  text[] not null,   -- sha256 of each customer key erased
    source_records       integer not null,
    counts               jsonb not null     -- rows erased per table
);

create table if not exists audit.erased_subjects (
    subject_hash  text primary key,         -- sha256 of `source:source_record_id` or of an email
    erased_at     timestamptz not null default now(),
    erasure_id    bigint not null references audit.erasures (erasure_id)
);
