{#- Production deployments (environments from config: var production_environments),
    their result and the owning team. -#}
with

deployments as (

    select * from {{ ref('int_deployments_resolved') }}

),

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

production as (

    select * from deployments
    where environment in {{ sql_string_list(var('production_environments')) }}

),

final as (

    select
        production.deployment_id,
        production.repository,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team,
        production.environment,
        production.commit_sha,
        production.ref,
        production.created_at,
        production.latest_status_at                                   as finished_at,
        production.latest_status_state,
        production.result,
        production.result = 'success'                                 as is_successful,
        production.result = 'failed'                                  as is_failed,
        cast(date_trunc('week', production.created_at) as date)       as week_start

    from production
    left join repository_teams
        on repository_teams.repository = production.repository

)

select * from final
