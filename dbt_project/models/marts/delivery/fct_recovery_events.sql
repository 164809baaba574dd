{#- One row per failure and when service was restored:
      failed_deployment  a failed production deployment, from its final status until the
                         next successful production deployment of the repository finishes;
      github_incident    an incident issue, from opened to closed;
      jira_incident      a Jira issue of type Incident (var jira_incident_issue_types) that
                         still exists upstream (deleted ones never count), from created to
                         its resolution date (while it is still resolved); team = the team
                         of its current project; no repository.
    Unrecovered failures have recovered_at null. -#}
with

deployments as (

    select * from {{ ref('int_production_deployments') }}

),

failed as (

    select * from deployments where result = 'failed'

),

successes as (

    select repository, finished_at from deployments where result = 'success'

),

failed_deployments as (

    select
        failed.team,
        'failed_deployment'                             as kind,
        cast(failed.deployment_id as varchar)           as reference,
        failed.repository,
        failed.latest_status_at                         as started_at,
        min(successes.finished_at)                      as recovered_at

    from failed
    left join successes
        on successes.repository = failed.repository
        and successes.finished_at > failed.latest_status_at
    group by failed.team, failed.deployment_id, failed.repository, failed.latest_status_at

),

github_incidents as (

    select
        team,
        'github_incident'                                               as kind,
        repository || '#' || cast(issue_number as varchar)              as reference,
        repository,
        opened_at                                                       as started_at,
        resolved_at                                                     as recovered_at

    from {{ ref('fct_incidents') }}
    where source = 'github'

),

jira_incidents as (

    select
        team,
        'jira_incident'                                                 as kind,
        issue_key                                                       as reference,
        cast(null as varchar)                                           as repository,
        created_at                                                      as started_at,
        resolved_at                                                     as recovered_at

    from {{ ref('int_jira__issues') }}
    where is_incident

),

events as (

    select * from failed_deployments
    union all
    select * from github_incidents
    union all
    select * from jira_incidents

),

final as (

    select
        events.*,
        {{ week_start('events.started_at') }}                           as week_start,
        {{ hours_between('events.started_at', 'events.recovered_at') }} as recovery_hours

    from events

)

select * from final
