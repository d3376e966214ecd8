{#
    Fails with one row per combination of the given columns that occurs more than once.
    (The project installs no packages, so this is our own small version of dbt_utils' test.)
#}
{% test unique_combination_of_columns(model, combination_of_columns) %}
    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ combination_of_columns | join(', ') }}
    having count(*) > 1
{% endtest %}
