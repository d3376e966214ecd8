-- One row per customer (customer_key): the household it belongs to, the customers whose golden
-- address is the same in identity's standardised form (the matching form of the address line in
-- the same city, and the same postcode where one is given; see address_places). Identity keeps relatives
-- apart; this groups them again, as a household rather than one person.
-- The address comes from the record the golden address_line came from, its postcode or city from
-- that same record, so that a household never mixes one record's street with another's postcode.
-- Not by surname: in Latin America spouses keep their own surnames, so a surname rule splits
-- couples (shares_surname_with_household only describes the household).
-- A view: the personal values it reads are in int_customer_golden_values and
-- identity.standardised_records, which `onetoone forget` erases, and it shows none of them (the
-- household key is a hash of the address key).
{{ config(tags=['identity']) }}

with

customer_keys as (

    select * from {{ ref('stg_identity__customer_keys') }}

),

golden_values as (

    select * from {{ ref('int_customer_golden_values') }}

),

standardised_records as (

    select * from {{ ref('stg_identity__standardised_records') }}

),

customers as (

    select distinct customer_key
    from customer_keys

),

golden_address_records as (

    select
        golden_values.customer_key,
        standardised_records.address,
        standardised_records.postcode,
        standardised_records.city

    from golden_values
    inner join standardised_records
        on golden_values.source = standardised_records.source
        and golden_values.source_record_id = standardised_records.source_record_id
    where golden_values.attribute_name = 'address_line'

),

{#- The same address in the same city is one home when the postcodes given there agree: a record
    without a postcode (5% of ERP records leave it out) joins the one postcode given. Where two
    postcodes are given, each is a home of its own (a street name can repeat in one city), and a
    record without one keys by its city. Without a city, address and postcode; with neither, a
    street address alone would join strangers in other towns: no household. #}
address_places as (

    select
        customer_key,
        address,
        postcode,
        lower(city) as city,
        min(postcode) over (partition by address, lower(city)) as lowest_postcode_given,
        max(postcode) over (partition by address, lower(city)) as highest_postcode_given

    from golden_address_records
    where address is not null
        and (postcode is not null or city is not null)

),

customer_address_keys as (

    select
        customer_key,
        address || '|' || case
            when city is null then 'postcode:' || postcode
            when lowest_postcode_given = highest_postcode_given
                then 'postcode:' || lowest_postcode_given
            when postcode is not null then 'postcode:' || postcode
            else 'city:' || city
        end as address_key

    from address_places

),

customer_households as (

    select
        customer_key,
        'HH-' || upper(left(md5(address_key), 12)) as household_key

    from customer_address_keys

),

{#- The surnames of the record the golden last_name came from, in matching form. #}
customer_surnames as (

    select distinct
        customer_households.household_key,
        customer_households.customer_key,
        surname.surname

    from customer_households
    inner join golden_values
        on customer_households.customer_key = golden_values.customer_key
        and golden_values.attribute_name = 'last_name'
    inner join standardised_records
        on golden_values.source = standardised_records.source
        and golden_values.source_record_id = standardised_records.source_record_id
    cross join lateral (
        values (standardised_records.surname_1), (standardised_records.surname_2)
    ) as surname (surname)
    where surname.surname is not null

),

surname_holders as (

    select
        customer_key,
        count(*) over (partition by household_key, surname) as holders

    from customer_surnames

),

surname_sharers as (

    select distinct customer_key
    from surname_holders
    where holders > 1

),

final as (

    select
        customers.customer_key,
        customer_households.household_key,
        surname_sharers.customer_key is not null as shares_surname_with_household

    from customers
    left join customer_households
        on customers.customer_key = customer_households.customer_key
    left join surname_sharers
        on customers.customer_key = surname_sharers.customer_key

)

select * from final
