{#- Every KPI of the catalogue per day (UTC), per team (repository null) and per repository,
    in the same long form and by the same period_aggregation as kpi_period. -#}
with

period_values as (

    select * from {{ ref('int_kpi_period_values') }}
    where period_grain = 'day'

),

final as (

    select
        period_start                            as date_day,
        is_complete,
        team,
        repository,
        kpi_id,
        value,
        numerator,
        denominator,
        observations

    from period_values

)

select * from final
