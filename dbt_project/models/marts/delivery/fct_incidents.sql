{#- One row per incident: a GitHub issue labelled `incident`, attributed to the change
    that caused it -- the latest successful production deployment of its repository that
    finished strictly before the incident was opened, at most
    var incident_attribution_hours before. Never a later deployment; otherwise unattributed. -#}
with

incidents as (

    select * from {{ ref('stg_github__issues') }}
    where is_incident

),

deployments as (

    select * from {{ ref('int_production_deployments') }}
    where result = 'success'

),

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

candidates as (

    select
        incidents.issue_id,
        deployments.deployment_id,
        deployments.finished_at,
        row_number() over (
            partition by incidents.issue_id
            order by deployments.finished_at desc, deployments.created_at desc, deployments.deployment_id desc
        ) as recency_rank

    from incidents
    inner join deployments
        on deployments.repository = incidents.repository
        and deployments.finished_at < incidents.created_at

),

latest_before as (

    select * from candidates where recency_rank = 1

),

final as (

    select
        incidents.issue_id                                          as incident_id,
        'github'                                                    as source,
        incidents.repository,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team,
        incidents.issue_number,
        incidents.created_at                                        as opened_at,
        incidents.closed_at                                         as resolved_at,
        case
            when {{ hours_between('latest_before.finished_at', 'incidents.created_at') }}
                <= {{ var('incident_attribution_hours') }}
            then latest_before.deployment_id
        end                                                         as caused_by_deployment_id,
        case
            when {{ hours_between('latest_before.finished_at', 'incidents.created_at') }}
                <= {{ var('incident_attribution_hours') }}
            then {{ hours_between('latest_before.finished_at', 'incidents.created_at') }}
        end                                                         as hours_after_deployment,
        {{ week_start('incidents.created_at') }}                    as week_start,
        {{ hours_between('incidents.created_at', 'incidents.closed_at') }} as hours_to_resolve

    from incidents
    left join latest_before
        on latest_before.issue_id = incidents.issue_id
    left join repository_teams
        on repository_teams.repository = incidents.repository

)

select * from final
