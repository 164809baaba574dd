{#- Field access into the raw JSON payload, in one place so the SQL stays portable
    (DuckDB now; PostgreSQL jsonb later). `path` is a dotted path: head.sha -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    json_extract_string({{ column }}, '$.{{ path }}')
{%- endmacro %}

{#- PostgreSQL paths are brace lists: parents[0].sha -> {parents,0,sha}. -#}
{% macro postgres__json_text(column, path) -%}
    ({{ column }}::jsonb #>> '{ {{- path | replace('[', ',') | replace(']', '') | replace('.', ',') -}} }')
{%- endmacro %}

{#- An ISO-8601 timestamp with offset, as a UTC timestamp without time zone. -#}
{% macro json_timestamp_utc(column, path) -%}
    (cast({{ json_text(column, path) }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- A SQL list literal from a list of plain strings (values validated by kpi.config;
    quotes are doubled anyway so a value can never close the literal). -#}
{% macro sql_string_list(values) -%}
    ({%- for value in values -%}'{{ value | replace("'", "''") }}'{%- if not loop.last %}, {% endif -%}{%- endfor -%})
{%- endmacro %}
