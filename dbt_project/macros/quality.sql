{#- Helpers for the quality, security and performance marts (cross-database: DuckDB is
    the default body, PostgreSQL the other). -#}

{#- A set-returning expression: one row per element of the JSON array at `array_path`
    (a dotted path), each element as JSON, so json_text(element, 'field') reads its fields.
    Use in a select list; an empty or missing array gives no row. -#}
{% macro json_array_elements(column, array_path) -%}
    {{ return(adapter.dispatch('json_array_elements')(column, array_path)) }}
{%- endmacro %}

{% macro default__json_array_elements(column, array_path) -%}
    unnest(json_extract({{ column }}, '$.{{ array_path }}[*]'))
{%- endmacro %}

{% macro postgres__json_array_elements(column, array_path) -%}
    jsonb_array_elements(coalesce({{ column }}::jsonb #> '{ {{- array_path | replace('.', ',') -}} }', '[]'::jsonb))
{%- endmacro %}

{#- Days between two timestamps, as a double (fractions kept). -#}
{% macro days_between(start, finish) -%}
    ({{ hours_between(start, finish) }} / 24.0)
{%- endmacro %}

{#- 100 * numerator / denominator as a double; null when the denominator is 0 or null. -#}
{% macro percent_of(numerator, denominator) -%}
    (100.0 * (cast({{ numerator }} as double precision) / cast(nullif({{ denominator }}, 0) as double precision)))
{%- endmacro %}

{#- The moment the warehouse's "now" stands for, as a UTC timestamp without time zone:
    the `as_of` var, else the KPI_AS_OF environment variable (ISO 8601 with offset, e.g.
    2026-11-23T00:00:00+00:00; tests pin the simulator's anchor with it), else the time of
    the build (the pipeline builds right after extracting). The variable is read only when
    SQL runs (`execute`): read while parsing, dbt would note it and re-parse every model
    using it each night, since each night has its own as-of moment. -#}
{% macro as_of_timestamp() -%}
    {%- set as_of = var('as_of', env_var('KPI_AS_OF', '') if execute else '') -%}
    {%- if as_of -%}
        (cast('{{ as_of | replace("'", "''") }}' as timestamptz) at time zone 'UTC')
    {%- else -%}
        (current_timestamp at time zone 'UTC')
    {%- endif -%}
{%- endmacro %}

{#- The latest CI run of each repository and ISO week among `candidates` (a relation with
    repository, source, run_id, run_started_at): latest start wins, ties by source then run
    id, as the catalogue defines "the latest run of the week". Adds `week_start` and the
    owning `team`. -#}
{% macro latest_run_per_repository_week(candidates) -%}
    select
        ranked.*,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team
    from (
        select
            candidates.*,
            {{ week_start('candidates.run_started_at') }} as week_start,
            row_number() over (
                partition by candidates.repository, {{ week_start('candidates.run_started_at') }}
                order by candidates.run_started_at desc, candidates.source desc, candidates.run_id desc
            ) as recency
        from {{ candidates }} as candidates
    ) as ranked
    left join {{ ref('stg_config__repository_teams') }} as repository_teams
        on repository_teams.repository = ranked.repository
    where ranked.recency = 1
{%- endmacro %}
