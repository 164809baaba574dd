{#- Failed deployment recovery time (DORA): median hours to restore, per team and ISO week
    of the failure; unrecovered failures are counted apart and left out of the median. -#}
with

events as (

    select * from {{ ref('fct_recovery_events') }}

),

final as (

    select
        team,
        week_start,
        count(*)                                                            as failures,
        count(case when kind = 'failed_deployment' then 1 end)         as failed_deployments,
        count(case when kind = 'github_incident' then 1 end)           as github_incidents,
        count(case when kind = 'jira_incident' then 1 end)             as jira_incidents,
        count(recovery_hours)                                               as recovered,
        count(*) - count(recovery_hours)                                    as unrecovered,
        {{ median('recovery_hours') }}                                      as median_recovery_hours

    from events
    group by team, week_start

)

select * from final
