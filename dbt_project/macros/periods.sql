{#- Periods of the long-form KPI marts (kpi_period, kpi_daily): a day, an ISO week, a
    calendar month or a calendar quarter, UTC, identified by its first day. Portable:
    date_trunc and generate_series over timestamps behave alike in DuckDB and PostgreSQL. -#}

{#- The grains the long-form marts are computed for, finest first (var kpi_period_grains
    narrows them, e.g. in a unit test). -#}
{% macro period_grains() -%}
    {{ return(var('kpi_period_grains', ['day', 'week', 'month', 'quarter'])) }}
{%- endmacro %}

{#- The length of one period of `grain`, as an interval literal. -#}
{% macro period_interval(grain) -%}
    {%- set intervals = {'day': '1 day', 'week': '7 days', 'month': '1 month', 'quarter': '3 months'} -%}
    {%- if grain not in intervals -%}
        {{ exceptions.raise_compiler_error("unknown period grain '" ~ grain ~ "' (day, week, month, quarter)") }}
    {%- endif -%}
    interval '{{ intervals[grain] }}'
{%- endmacro %}

{#- The first day of the `grain` period containing a timestamp, as a date. -#}
{% macro period_start(grain, timestamp) -%}
    {%- do period_interval(grain) -%}
    cast(date_trunc('{{ grain }}', {{ timestamp }}) as date)
{%- endmacro %}

{#- Every period of each grain from the one containing `bounds`.first_at to the one
    containing `bounds`.last_at (both included): period_grain, period_start (date) and
    period_end (the first day after it). `bounds` is a one-row CTE of two timestamps. -#}
{% macro period_spine(grains, bounds) -%}
    {%- for grain in grains %}
    select
        '{{ grain }}'                                                       as period_grain,
        cast(spine.period_start as date)                                    as period_start,
        cast(spine.period_start + {{ period_interval(grain) }} as date)     as period_end
    from {{ bounds }}
    cross join generate_series(
        cast(date_trunc('{{ grain }}', {{ bounds }}.first_at) as timestamp),
        cast(date_trunc('{{ grain }}', {{ bounds }}.last_at) as timestamp),
        {{ period_interval(grain) }}
    ) as spine(period_start)
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}

{#- Whether `value` satisfies a threshold condition (operator at_least >=, above >, at_most
    <=, below <), as the catalogue's DORA levels and the scorecard rules write them; null
    when the value is null. -#}
{% macro condition_holds(value, operator, threshold) -%}
    (case {{ operator }}
        when 'at_least' then {{ value }} >= {{ threshold }}
        when 'above' then {{ value }} > {{ threshold }}
        when 'at_most' then {{ value }} <= {{ threshold }}
        when 'below' then {{ value }} < {{ threshold }}
    end)
{%- endmacro %}
