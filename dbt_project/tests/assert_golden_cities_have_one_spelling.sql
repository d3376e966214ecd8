-- Golden cities come in one spelling per city: no two spellings in dim_customers fold to the
-- same normalised text (case, accents, whitespace). Rows: the folded city and its spellings.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

spellings as (

    select
        {{ normalise_text('city') }} as folded_city,
        count(distinct city) as spelling_count,
        array_agg(distinct city order by city) as spellings

    from customers
    where city is not null
    group by 1

)

select * from spellings where spelling_count > 1
