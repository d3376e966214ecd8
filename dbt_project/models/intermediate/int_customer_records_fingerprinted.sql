-- One row per customer (customer_key): a fingerprint of everything its golden record is chosen
-- from, i.e. its source records (int_customer_records_unioned), their standardised values
-- (identity) and the survivorship settings. When none of that changed, neither did the golden
-- record: int_customer_golden_values rebuilds only the customers whose fingerprint changed.
{{ config(tags=['identity']) }}

with

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}

),

customer_records as (

    select * from {{ ref('int_customer_records_unioned') }}

),

standardised_records as (

    select * from {{ ref('stg_identity__standardised_records') }}

),

final as (

    select
        customer_keys.customer_key,
        md5(
            '{{ var("golden_record_rules") | tojson }} {{ var("source_trust_order") | tojson }} '
            || string_agg(
                customer_records::text || ' ' || coalesce(standardised_records::text, ''),
                ' ' order by customer_records.source, customer_records.source_record_id
            )
        ) as records_fingerprint

    from customer_keys
    inner join customer_records
        on customer_keys.source = customer_records.source
        and customer_keys.source_record_id = customer_records.source_record_id
    left join standardised_records
        on customer_keys.source = standardised_records.source
        and customer_keys.source_record_id = standardised_records.source_record_id
    group by customer_keys.customer_key

)

select * from final
