-- Every portfolio has exactly one account manager: all of its customers share one, non-null,
-- manager or pooled team (a portfolio is assigned whole).

select
    portfolio_id,
    count(*) as customers,
    count(manager_id) as customers_with_manager,
    count(distinct manager_id) as managers

from {{ ref('mart_portfolios') }}
group by portfolio_id
having count(manager_id) < count(*)
    or count(distinct manager_id) <> 1
