-- One row per customer x golden-record attribute: where dim_customers' value came from and which
-- survivorship rule chose it, without the value itself (BI-safe: no personal column).

with

golden_values as (

    select * from {{ ref('int_customer_golden_values') }}

),

final as (

    select
        customer_key,
        attribute_name,
        source,
        source_record_id,
        source_updated_at,
        candidate_count,
        distinct_value_count,
        value_frequency,
        is_valid,
        rule_order,
        decided_by

    from golden_values

)

select * from final
