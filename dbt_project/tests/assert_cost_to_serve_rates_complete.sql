-- The customer value model needs every one of these rates in the seed cost_to_serve_rates: a
-- rate a business user deleted by mistake must fail the build, not silently cost nothing.

with

required_rates (rate_name) as (

    values ('call_cost_per_minute'), ('return_cost_per_return'), ('coupon_redemption_cost')

)

select required_rates.rate_name
from required_rates
left join {{ ref('cost_to_serve_rates') }} as rates
    on required_rates.rate_name = rates.rate_name
where rates.rate_name is null
