{#- Jira helpers (cross-database: DuckDB is the default body, PostgreSQL the other). -#}

{#- The day a Jira version actually shipped, as a date: Jira keeps only the planned
    `releaseDate`, so the release process writes `released: YYYY-MM-DD` into the version's
    description. Null when the description carries no such day. -#}
{% macro jira_released_on(description) -%}
    {{ return(adapter.dispatch('jira_released_on')(description)) }}
{%- endmacro %}

{% macro default__jira_released_on(description) -%}
    cast(nullif(regexp_extract({{ description }}, 'released:\s*([0-9]{4}-[0-9]{2}-[0-9]{2})', 1), '') as date)
{%- endmacro %}

{% macro postgres__jira_released_on(description) -%}
    cast(substring({{ description }} from 'released:\s*([0-9]{4}-[0-9]{2}-[0-9]{2})') as date)
{%- endmacro %}

{#- Whole days from one date to another (negative when `finish` is earlier), as an integer. -#}
{% macro days_from(start_date, finish_date) -%}
    cast(({{ finish_date }}) - ({{ start_date }}) as integer)
{%- endmacro %}
