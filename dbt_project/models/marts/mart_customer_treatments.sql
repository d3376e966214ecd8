-- One row per customer: how to treat them (Peppers & Rogers "customize").
--   service_level        by value tier (seed service_levels)
--   channel              the preferred channel; BZ customers are served on the cheapest one
--   next_offer_category  the category most customers of the same need segment buy that this
--                        customer has not bought yet (ties: category name); null when there is none
--   marketing_channel    the outbound channel (email, phone, sms, whatsapp) the customer may be
--                        marketed on (mart_customer_contact.can_market_by_*, which apply the
--                        country's opt-in / opt-out rules): the one that matches the service
--                        channel first (web: email, phone: phone), else the cheapest (seed
--                        channel_costs); null when no channel is allowed
--   contact policy       is_contactable when the customer has not opted out of marketing, has a
--                        marketing_channel, and has had fewer contacts in the 30 days before
--                        as_of than the tier's cap
--                        (contacts = the customer's calls and orders: every touch counts)

with

customer_value as (

    select * from {{ ref('mart_customer_value') }}

),

needs as (

    select * from {{ ref('mart_customer_needs') }}

),

contact as (

    select * from {{ ref('mart_customer_contact') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

interactions as (

    select * from {{ ref('fct_interactions') }}

),

service_levels as (

    select * from {{ ref('service_levels') }}

),

channel_costs as (

    select * from {{ ref('channel_costs') }}

),

marketing_permissions as (

    {% for channel in marketing_channels() -%}
    select
        customer_key,
        '{{ channel }}' as marketing_channel,
        can_market_by_{{ channel }} as is_allowed
    from contact
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

window_bounds as (

    select
        {{ as_of_timestamp() }} as window_end_at,
        {{ as_of_timestamp() }} - interval '30 days' as recent_start_at

),

bought as (

    select distinct
        order_lines.customer_key,
        order_lines.category

    from order_lines
    cross join window_bounds
    where order_lines.customer_key is not null
        and order_lines.order_status = 'completed'
        and order_lines.has_known_product
        and order_lines.ordered_at < window_bounds.window_end_at

),

segment_popularity as (

    select
        needs.need_segment,
        bought.category,
        count(*) as buyers

    from bought
    inner join needs
        on bought.customer_key = needs.customer_key
    group by needs.need_segment, bought.category

),

offer_candidates as (

    select
        needs.customer_key,
        segment_popularity.category,
        row_number() over (
            partition by needs.customer_key
            order by segment_popularity.buyers desc, segment_popularity.category
        ) as offer_rank

    from needs
    inner join segment_popularity
        on needs.need_segment = segment_popularity.need_segment
    left join bought
        on needs.customer_key = bought.customer_key
        and segment_popularity.category = bought.category
    where bought.customer_key is null

),

recent_contacts as (

    select
        interactions.customer_key,
        count(*) as contacts_last_30_days

    from interactions
    cross join window_bounds
    where interactions.interaction_type in ('call', 'order')
        and interactions.interaction_at >= window_bounds.recent_start_at
        and interactions.interaction_at < window_bounds.window_end_at
    group by interactions.customer_key

),

service_channels as (

    select
        customer_value.customer_key,
        case
            when customer_value.value_tier = 'BZ' then contact.cheapest_channel
            else contact.preferred_channel
        end as channel

    from customer_value
    inner join contact
        on customer_value.customer_key = contact.customer_key

),

marketing_choices as (

    select
        marketing_permissions.customer_key,
        marketing_permissions.marketing_channel,
        row_number() over (
            partition by marketing_permissions.customer_key
            order by
                (service_channels.channel = 'web' and marketing_permissions.marketing_channel = 'email')
                or (service_channels.channel = 'phone'
                    and marketing_permissions.marketing_channel = 'phone') desc,
                channel_costs.cost_per_contact,
                marketing_permissions.marketing_channel
        ) as choice_rank

    from marketing_permissions
    inner join service_channels
        on marketing_permissions.customer_key = service_channels.customer_key
    inner join channel_costs
        on marketing_permissions.marketing_channel = channel_costs.channel
    where marketing_permissions.is_allowed

),

treated as (

    select
        customer_value.customer_key,
        customer_value.as_of_date,
        customer_value.value_tier,
        needs.need_segment,
        service_levels.service_level,
        service_levels.max_contacts_per_30_days,
        service_channels.channel,
        marketing_choices.marketing_channel,
        offer.category as next_offer_category,
        contact.is_marketing_opted_out,
        coalesce(recent_contacts.contacts_last_30_days, 0) as contacts_last_30_days

    from customer_value
    inner join needs
        on customer_value.customer_key = needs.customer_key
    inner join contact
        on customer_value.customer_key = contact.customer_key
    inner join service_levels
        on customer_value.value_tier = service_levels.value_tier
    inner join service_channels
        on customer_value.customer_key = service_channels.customer_key
    left join marketing_choices
        on customer_value.customer_key = marketing_choices.customer_key
        and marketing_choices.choice_rank = 1
    left join offer_candidates as offer
        on customer_value.customer_key = offer.customer_key
        and offer.offer_rank = 1
    left join recent_contacts
        on customer_value.customer_key = recent_contacts.customer_key

),

final as (

    select
        customer_key,
        as_of_date,
        value_tier,
        need_segment,
        service_level,
        channel,
        marketing_channel,
        next_offer_category,
        contacts_last_30_days,
        max_contacts_per_30_days,
        is_marketing_opted_out,
        not is_marketing_opted_out
            and marketing_channel is not null
            and contacts_last_30_days < max_contacts_per_30_days
            as is_contactable

    from treated

)

select * from final
