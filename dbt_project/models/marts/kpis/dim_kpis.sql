{#- The KPI catalogue (config/kpi_catalogue.yaml) for analysts: one row per KPI, with its
    definition and how it aggregates to a period. -#}
with

kpis as (

    select * from {{ ref('stg_config__kpis') }}

),

final as (

    select
        kpi_id,
        kpi_name,
        family,
        unit,
        direction,
        definition,
        mart,
        value_column,
        period_facts,
        period_value,
        zero_filled,
        repository_rows,
        period_rule

    from kpis
    where status = 'implemented'

)

select * from final
