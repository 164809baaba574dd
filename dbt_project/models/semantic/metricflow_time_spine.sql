{#- One row per day, the calendar MetricFlow joins metrics to (cumulative metrics, offsets,
    filling days without data). Portable: dbt's date_spine on DuckDB and PostgreSQL. -#}
{{ config(schema='semantic', materialized='table') }}

with

days as (

    {{ dbt.date_spine(datepart="day", start_date="cast('2020-01-01' as date)", end_date="cast('2031-01-01' as date)") }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
