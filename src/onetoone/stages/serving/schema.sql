-- The front-line service's tables in the audit schema: its access tokens (only their hashes)
-- and one row per lookup and customer view, without the searched values in clear.
-- Owned by the serving stage (frontline.py); the quality results and the erasure registry share
-- the schema. Idempotent.
create schema if not exists audit;

create table if not exists audit.frontline_tokens (
    token_id    text primary key,                 -- public part of the token, shown in audits
    token_hash  text not null unique,             -- hex SHA-256 of the whole token
    role        text not null check (role in ('frontline', 'bi')),
    holder      text not null,                    -- who or what the token was issued to
    issued_at   timestamptz not null default now(),
    revoked_at  timestamptz
);

create table if not exists audit.frontline_lookups (
    lookup_id      bigint generated always as identity primary key,
    occurred_at    timestamptz not null default now(),
    token_id       text not null references audit.frontline_tokens (token_id),
    role           text not null,
    kind           text not null check (kind in ('lookup', 'view')),
    fields_given   text[] not null,               -- names of the fields searched, never values
    contact_hash   text,                          -- keyed HMAC-SHA256 of the searched values
    outcome        text,                          -- match, ambiguous, no_match, refused,
                                                  -- forbidden, timed_out; views: found, not_found
    result_count   integer not null,
    top_key        text,
    result_keys    text[] not null,
    latency_ms     double precision not null,
    model_version  text
);
create index if not exists frontline_lookups_token_key
    on audit.frontline_lookups (token_id, occurred_at);

-- One row per caller the front line recorded as a new call-center record (POST /customers):
-- the names of the fields given, a keyed hash of their values, the record and file written;
-- never a value in clear.
create table if not exists audit.frontline_captures (
    capture_id     bigint generated always as identity primary key,
    occurred_at    timestamptz not null default now(),
    token_id       text not null references audit.frontline_tokens (token_id),
    role           text not null,
    fields_given   text[] not null,
    contact_hash   text,                          -- keyed HMAC-SHA256, as in frontline_lookups
    outcome        text not null check (outcome in ('recorded', 'refused', 'forbidden')),
    source_record  text,                          -- callcenter:<contact_id> of the record
    landing_file   text,                          -- relative to the landing folder
    latency_ms     double precision not null
);
