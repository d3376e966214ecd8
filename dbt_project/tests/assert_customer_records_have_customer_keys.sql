-- Identity resolution gave every source customer record a customer key: a record without one
-- would silently drop out of the customer dimension and the interaction timeline.
-- (Runs with the marts: identity resolution reads int_customer_records_unioned before.)

select
    records.source,
    records.source_record_id

from {{ ref('int_customer_records_unioned') }} as records
left join {{ ref('stg_identity__customer_keys') }} as customer_keys
    on records.source = customer_keys.source
    and records.source_record_id = customer_keys.source_record_id
where customer_keys.customer_key is null
