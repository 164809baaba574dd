{#- Deployment frequency (DORA): production deployments per team per ISO week (Monday
    start, UTC), zero-filled for every team across the weeks the data covers. -#}
with

deployments as (

    select * from {{ ref('fct_deployments') }}

),

teams as (

    select team from {{ ref('stg_config__teams') }}

),

week_bounds as (

    select min(week_start) as first_week, max(week_start) as last_week
    from deployments

),

weeks as (

    {{ week_spine('week_bounds') }}

),

team_weeks as (

    select teams.team, weeks.week_start
    from teams
    cross join weeks

),

weekly as (

    select
        team,
        week_start,
        count(*)                                       as deployments,
        count(*) filter (where is_successful)          as successful_deployments,
        count(*) filter (where is_failed)              as failed_deployments

    from deployments
    group by team, week_start

),

final as (

    select
        team_weeks.team,
        team_weeks.week_start,
        cast(extract(isoyear from team_weeks.week_start) as integer) as iso_year,
        cast(extract(week from team_weeks.week_start) as integer)    as iso_week,
        coalesce(weekly.deployments, 0)                              as deployments,
        coalesce(weekly.successful_deployments, 0)                   as successful_deployments,
        coalesce(weekly.failed_deployments, 0)                       as failed_deployments

    from team_weeks
    left join weekly
        on weekly.team = team_weeks.team
        and weekly.week_start = team_weeks.week_start

)

select * from final
