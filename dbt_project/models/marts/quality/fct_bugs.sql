{#- One row per Jira bug that still exists upstream (deleted issues never appear), any
    environment (is_production marks the production ones the KPI counts), with its team
    (of its current project), current severity and status, when it was opened and resolved,
    and its resolutions and reopenings from the changelog (a transition into the done
    status category -- Done, Won't Do -- from outside it resolves; one out of it reopens). -#}
with

bugs as (

    select * from {{ ref('int_jira__issues') }}
    where is_bug

),

transitions as (

    select * from {{ ref('int_jira__status_transitions') }}

),

flow as (

    select
        issue_id,
        count(case when is_resolution then 1 end)                   as resolutions,
        count(case when is_reopening then 1 end)                    as reopenings,
        min(case when is_resolution then changed_at end)            as first_resolved_at,
        max(case when is_reopening then changed_at end)             as last_reopened_at

    from transitions
    group by issue_id

),

final as (

    select
        bugs.issue_id,
        bugs.issue_key,
        bugs.project_key,
        bugs.team,
        bugs.severity,
        bugs.environment,
        bugs.is_production,
        bugs.status,
        bugs.is_resolved,
        bugs.created_at,
        {{ week_start('bugs.created_at') }}                         as week_start,
        bugs.resolved_at,
        flow.first_resolved_at,
        coalesce(flow.resolutions, 0)                               as resolutions,
        coalesce(flow.reopenings, 0)                                as reopenings,
        flow.last_reopened_at,
        {{ hours_between('bugs.created_at', 'bugs.resolved_at') }}  as hours_to_resolve

    from bugs
    left join flow
        on flow.issue_id = bugs.issue_id

)

select * from final
