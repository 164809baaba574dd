{#- Production deployments (environments from var production_environments): result,
    owning team, what they shipped and whether they failed as a change (caused an
    incident or were rolled back). -#}
with

deployments as (

    select * from {{ ref('int_production_deployments') }}

),

ranges as (

    select * from {{ ref('int_deployment_ranges') }}

),

shipped_pull_requests as (

    select deployment_id, count(*) as pull_requests_shipped
    from {{ ref('fct_pull_requests') }}
    where deployment_id is not null
    group by deployment_id

),

caused_incidents as (

    select caused_by_deployment_id as deployment_id, count(*) as incidents_caused
    from {{ ref('fct_incidents') }}
    where caused_by_deployment_id is not null
    group by caused_by_deployment_id

),

final as (

    select
        deployments.deployment_id,
        deployments.repository,
        deployments.team,
        deployments.environment,
        deployments.commit_sha,
        deployments.ref,
        deployments.created_at,
        deployments.latest_status_at                                as finished_at,
        deployments.latest_status_state,
        deployments.result,
        deployments.result = 'success'                              as is_successful,
        deployments.result = 'failed'                               as is_failed,
        {{ week_start('deployments.created_at') }}                  as week_start,
        ranges.position                                             as commit_position,
        coalesce(shipped_pull_requests.pull_requests_shipped, 0)    as pull_requests_shipped,
        coalesce(ranges.is_rolled_back, false)                      as is_rolled_back,
        coalesce(caused_incidents.incidents_caused, 0)              as incidents_caused,
        coalesce(ranges.is_rolled_back, false)
            or coalesce(caused_incidents.incidents_caused, 0) > 0   as is_failed_change

    from deployments
    left join ranges
        on ranges.deployment_id = deployments.deployment_id
    left join shipped_pull_requests
        on shipped_pull_requests.deployment_id = deployments.deployment_id
    left join caused_incidents
        on caused_incidents.deployment_id = deployments.deployment_id

)

select * from final
