-- No named (key-account) manager holds fewer customers than portfolio_min_customers_per_manager:
-- below it a manager keeps no book (mart_portfolios.pooled_reason below_manager_minimum).

select
    manager_id,
    count(*) as customers

from {{ ref('mart_portfolios') }}
where coverage = 'key_account'
group by manager_id
having count(*) < {{ var('portfolio_min_customers_per_manager') }}
