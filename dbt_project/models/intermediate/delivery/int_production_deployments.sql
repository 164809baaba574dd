{#- Production deployments (environments from var production_environments) with their
    result and owning team: what every delivery KPI starts from. -#}
with

deployments as (

    select * from {{ ref('int_deployments_resolved') }}

),

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

production as (

    select
        deployments.*,
        deployments.latest_status_at        as finished_at,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team

    from deployments
    left join repository_teams
        on repository_teams.repository = deployments.repository
    where deployments.environment in {{ sql_string_list(var('production_environments')) }}

)

select * from production
