{#- Every KPI of the catalogue per week, month and quarter, per team (repository null) and
    per repository, in one long form: each value computed from the facts of its period by
    the KPI's period_aggregation in config/kpi_catalogue.yaml (int_kpi_period_values). A
    KPI without a fact in a period says so with a null value, except where its definition
    zero-fills. -#}
with

period_values as (

    select * from {{ ref('int_kpi_period_values') }}
    where period_grain in ('week', 'month', 'quarter')

),

final as (

    select
        period_grain,
        period_start,
        period_end,
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
