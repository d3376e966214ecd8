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

-- Columns added after the first release, so an older warehouse is upgraded in place. Checked
-- first: `alter table` locks the table even when the column exists, and this runs every day.
do $$
declare
    wanted constant text[] := array[
        'purchase_model', 'text',             -- the backtest's winner, e.g. 'BG/NBD'
        'alive_model', 'text',                -- gives probability_alive when the winner cannot
        'backtest_calibration_end', 'date',   -- the backtest's inner calibration end
        'backtest_days', 'integer',
        'backtest_rmse', 'numeric',           -- the winner's, per customer, on the backtest
        'backtest_aggregate_error', 'numeric',  -- the winner's predicted / actual - 1
        'backtest', 'jsonb',                  -- every candidate's figures and the reason
        'customer_events', 'jsonb',           -- the events the run had: counts per kind only
        'fit_run_id', 'text'];                -- the run whose fit scored it (value.model_fits)
begin
    for i in 1 .. array_length(wanted, 1) by 2 loop
        if not exists (select 1 from information_schema.columns where table_schema = 'value'
                       and table_name = 'model_runs' and column_name = wanted[i]) then
            execute format('alter table value.model_runs add column %I %s',
                           wanted[i], wanted[i + 1]);
        end if;
    end loop;
    -- probability_alive was not null before: a customer no model can tell about is null.
    if exists (select 1 from information_schema.columns where table_schema = 'value'
               and table_name = 'customer_strategic_values'
               and column_name = 'probability_alive' and is_nullable = 'NO') then
        alter table value.customer_strategic_values alter column probability_alive drop not null;
    end if;
end
$$;

create table if not exists value.customer_strategic_values (
    customer_key            text primary key,
    as_of_date              date not null,
    expected_purchases_12m  numeric not null,
    expected_revenue_12m    numeric not null,
    probability_alive       numeric,  -- null when no model could tell
    clv                     numeric not null,
    model_run_id            text not null,
    scored_at               timestamptz not null  -- the clock at write, read by freshness
);

-- The saved fits the daily step reuses between refits (stages/value/fits.py). A run scores with
-- the latest fit of its fingerprint whose calibration end is on or before its own.
create table if not exists value.model_fits (
    fit_run_id       text primary key,      -- the run that fitted it
    calibration_end  date not null,         -- the last day of orders the fit saw
    fingerprint      text not null,         -- the value code and library versions (fits.py)
    fitted_at        timestamptz not null,  -- the clock at fit
    purchase_model   text not null,         -- e.g. 'BG/NBD'
    purchase_params  jsonb not null,
    alive_model      text,                  -- null: the purchase model gives P(alive)
    alive_params     jsonb,
    spend_params     jsonb not null,        -- Gamma-Gamma p, q, v
    correction       bytea                  -- the boosted correction, pickled; null: none
);
