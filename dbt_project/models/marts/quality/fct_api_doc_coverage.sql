{#- API documentation coverage: one row per repository and ISO week, from the latest
    default-branch CI run of the week (any conclusion) that archived an OpenAPI document. -#}
with

latest as (

    {{ latest_run_per_repository_week(ref('int_api_doc_candidates')) }}

),

final as (

    select
        latest.repository,
        latest.team,
        latest.week_start,
        latest.source,
        latest.run_id,
        latest.run_started_at,
        latest.operations,
        latest.documented_operations,
        {{ percent_of('latest.documented_operations', 'latest.operations') }}             as documented_operations_percent

    from latest

)

select * from final
