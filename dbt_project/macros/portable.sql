{#- Cross-database helpers: one name per idea, DuckDB (default) and PostgreSQL bodies. -#}

{#- Hours between two timestamps, as a double (fractions of a second kept). -#}
{% macro hours_between(start, finish) -%}
    {{ return(adapter.dispatch('hours_between')(start, finish)) }}
{%- endmacro %}

{% macro default__hours_between(start, finish) -%}
    ((epoch({{ finish }}) - epoch({{ start }})) / 3600.0)
{%- endmacro %}

{% macro postgres__hours_between(start, finish) -%}
    (cast(extract(epoch from ({{ finish }} - {{ start }})) as double precision) / 3600.0)
{%- endmacro %}

{#- Seconds between two timestamps, as a double, exact to the microsecond (integer
    microseconds first: epoch() as a double would round millisecond timestamps). -#}
{% macro seconds_between(start, finish) -%}
    {{ return(adapter.dispatch('seconds_between')(start, finish)) }}
{%- endmacro %}

{% macro default__seconds_between(start, finish) -%}
    ((epoch_us({{ finish }}) - epoch_us({{ start }})) / 1000000.0)
{%- endmacro %}

{% macro postgres__seconds_between(start, finish) -%}
    cast(extract(epoch from ({{ finish }} - {{ start }})) as double precision)
{%- endmacro %}

{#- The median, interpolated between the two middle values (as Python's statistics.median). -#}
{% macro median(expression) -%}
    {{ return(adapter.dispatch('median')(expression)) }}
{%- endmacro %}

{% macro default__median(expression) -%}
    median({{ expression }})
{%- endmacro %}

{% macro postgres__median(expression) -%}
    percentile_cont(0.5) within group (order by {{ expression }})
{%- endmacro %}

{#- Monday of the ISO week of a timestamp, as a date. -#}
{% macro week_start(timestamp) -%}
    cast(date_trunc('week', {{ timestamp }}) as date)
{%- endmacro %}

{#- Every ISO week from `bounds`.first_week to `bounds`.last_week (Mondays, both included):
    week_start (date) and week_end (the next Monday, timestamp). `bounds` is a one-row CTE. -#}
{% macro week_spine(bounds) -%}
    select
        cast(spine.week_start as date)          as week_start,
        spine.week_start + interval '7 days'    as week_end
    from {{ bounds }}
    cross join generate_series(
        cast({{ bounds }}.first_week as timestamp), cast({{ bounds }}.last_week as timestamp), interval '7 days'
    ) as spine(week_start)
{%- endmacro %}
