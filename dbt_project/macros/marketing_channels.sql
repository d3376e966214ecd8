{#
    The outbound marketing channels, each with the golden-record column it needs (an e-mail
    address, or a phone number for calls, texts and WhatsApp). The one list that the consent,
    country-rule and permission columns of mart_customer_contact, and the channel choice of
    mart_customer_treatments, are written from.
#}
{% macro marketing_channels() -%}
    {{ return({'email': 'email', 'phone': 'phone', 'sms': 'phone', 'whatsapp': 'phone'}) }}
{%- endmacro %}
