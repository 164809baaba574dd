{#- Existing Jira issues (deleted ones are already out, see stg_jira__issues) with their
    team -- the team of the issue's *current* project (stg_config__jira_project_teams;
    the unassigned team for a project no team claims) -- and what the KPIs classify:
      is_bug         issue type in var jira_bug_issue_types (default [Bug]);
      is_incident    issue type in var jira_incident_issue_types (default [Incident]);
      is_production  Environment in var jira_production_environments (default [production]);
      is_resolved    current status in the done category (Done, Won't Do);
      resolved_at    when it was resolved, while it still is: Jira's resolutiondate, else
                     (a workflow that sets no resolution) the last move into a done status. -#}
with

issues as (

    select * from {{ ref('stg_jira__issues') }}

),

project_teams as (

    select * from {{ ref('stg_config__jira_project_teams') }}

),

transitions as (

    select * from {{ ref('int_jira__status_transitions') }}

),

last_resolution as (

    select issue_id, max(changed_at) as last_resolved_at
    from transitions
    where is_resolution
    group by issue_id

),

final as (

    select
        issues.issue_id,
        issues.issue_key,
        issues.project_key,
        coalesce(project_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team,
        issues.issue_type,
        issues.status,
        issues.status_category,
        issues.resolution,
        issues.severity,
        issues.environment,
        issues.created_at,
        issues.updated_at,
        issues.issue_type in {{ sql_string_list(var('jira_bug_issue_types', ['Bug'])) }}             as is_bug,
        issues.issue_type in {{ sql_string_list(var('jira_incident_issue_types', ['Incident'])) }}   as is_incident,
        coalesce(issues.environment in {{ sql_string_list(var('jira_production_environments', ['production'])) }}, false)
                                                                                                     as is_production,
        coalesce(issues.status_category = 'done', false)                                             as is_resolved,
        case
            when issues.status_category = 'done'
            then coalesce(issues.resolution_date, last_resolution.last_resolved_at)
        end                                                                                          as resolved_at

    from issues
    left join project_teams
        on project_teams.project_key = issues.project_key
    left join last_resolution
        on last_resolution.issue_id = issues.issue_id

)

select * from final
