{#- A value clamped to 0-1, null staying null: GREATEST and LEAST skip nulls on DuckDB and
    PostgreSQL alike (greatest(0, null) is 0), which would score "no data" as 0. -#}
{% macro clamp_unit(expression) -%}
    (case when {{ expression }} is null then null else least(1.0, greatest(0.0, {{ expression }})) end)
{%- endmacro %}
