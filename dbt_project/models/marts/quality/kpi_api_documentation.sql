{#- API documentation coverage KPI: per team, repository and week, the documented share of
    the operations of the week's latest default-branch OpenAPI document. -#}
with

coverage as (

    select * from {{ ref('fct_api_doc_coverage') }}

),

final as (

    select
        team,
        repository,
        week_start,
        source,
        run_id,
        run_started_at,
        operations,
        documented_operations,
        documented_operations_percent

    from coverage

)

select * from final
