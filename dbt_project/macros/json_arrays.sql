{#- Arrays inside raw JSON payloads. `array_path` is a dotted path to the array. -#}

{#- A set-returning expression: one row per element, the element's `field` as text.
    Use in a select list (both DuckDB and PostgreSQL expand it there). -#}
{% macro json_array_field_rows(column, array_path, field) -%}
    {{ return(adapter.dispatch('json_array_field_rows')(column, array_path, field)) }}
{%- endmacro %}

{% macro default__json_array_field_rows(column, array_path, field) -%}
    unnest(json_extract_string({{ column }}, '$.{{ array_path }}[*].{{ field }}'))
{%- endmacro %}

{% macro postgres__json_array_field_rows(column, array_path, field) -%}
    (jsonb_array_elements({{ column }}::jsonb #> '{ {{- array_path | replace('.', ',') -}} }') ->> '{{ field }}')
{%- endmacro %}

{#- True when some element of the array has `field` equal to `value` (a label name). -#}
{% macro json_array_has(column, array_path, field, value) -%}
    {{ return(adapter.dispatch('json_array_has')(column, array_path, field, value)) }}
{%- endmacro %}

{% macro default__json_array_has(column, array_path, field, value) -%}
    coalesce(list_contains(json_extract_string({{ column }}, '$.{{ array_path }}[*].{{ field }}'), '{{ value | replace("'", "''") }}'), false)
{%- endmacro %}

{% macro postgres__json_array_has(column, array_path, field, value) -%}
    coalesce(({{ column }}::jsonb #> '{ {{- array_path | replace('.', ',') -}} }') @> {{ "'" ~ ([{field: value}] | tojson | replace("'", "''")) ~ "'" }}::jsonb, false)
{%- endmacro %}
