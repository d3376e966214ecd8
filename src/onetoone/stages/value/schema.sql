-- The value step's output, read back by dbt as the `value` source. Idempotent.
create schema if not exists value;

create table if not exists value.model_runs (
    model_run_id             text primary key,
    as_of                    timestamptz not null,
    customers                integer not null,
    purchase_params          jsonb not null,   -- BG/NBD r, alpha, a, b
    spend_params             jsonb not null,   -- Gamma-Gamma p, q, v
    annual_discount_rate     numeric not null,
    holdout_calibration_end  date,
    holdout_days             integer,
    holdout_purchases_ratio  numeric,          -- predicted / actual repeat purchases
    holdout_revenue_ratio    numeric,          -- predicted / actual revenue
    holdout_report           text
);

create table if not exists value.customer_strategic_values (
    customer_key            text primary key,
    as_of_date              date not null,
    expected_purchases_12m  numeric not null,
    expected_revenue_12m    numeric not null,
    probability_alive       numeric not null,
    clv                     numeric not null,
    model_run_id            text not null,
    scored_at               timestamptz not null
);
