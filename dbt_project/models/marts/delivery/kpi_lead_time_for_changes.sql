{#- Lead time for changes (DORA): median hours from a pull request's first commit to the
    production deployment that shipped it, per team and ISO week of that deployment.
    Pull requests not deployed yet are counted apart in the week they were merged; those
    predating deployment tracking or with unknown commits are left out (fct_pull_requests).
    A row exists for every (team, week) with a deployed or a not-deployed pull request. -#}
with

pull_requests as (

    select * from {{ ref('fct_pull_requests') }}

),

deployed as (

    select
        team,
        deployment_week_start                   as week_start,
        count(*)                                as deployed_pull_requests,
        {{ median('lead_time_hours') }}         as median_lead_time_hours

    from pull_requests
    where delivery_status = 'deployed'
    group by team, deployment_week_start

),

waiting as (

    select
        team,
        merged_week_start                       as week_start,
        count(*)                                as not_deployed_pull_requests

    from pull_requests
    where delivery_status = 'not_deployed'
    group by team, merged_week_start

),

team_weeks as (

    select team, week_start from deployed
    union
    select team, week_start from waiting

),

final as (

    select
        team_weeks.team,
        team_weeks.week_start,
        coalesce(deployed.deployed_pull_requests, 0)        as deployed_pull_requests,
        deployed.median_lead_time_hours,
        coalesce(waiting.not_deployed_pull_requests, 0)     as not_deployed_pull_requests

    from team_weeks
    left join deployed
        on deployed.team = team_weeks.team
        and deployed.week_start = team_weeks.week_start
    left join waiting
        on waiting.team = team_weeks.team
        and waiting.week_start = team_weeks.week_start

)

select * from final
