{#- Rows must be unique on the given columns (like dbt_utils.unique_combination_of_columns,
    written here to avoid a package download at build time). -#}
{% test unique_combination_of_columns(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}
