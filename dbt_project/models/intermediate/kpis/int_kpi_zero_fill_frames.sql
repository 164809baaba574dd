{#- Where the zero-filled KPIs (period_aggregation.zero_filled in the catalogue) read 0
    instead of "no data": one row per KPI and member (a team, or a repository of a team),
    with the moments whose periods bound the range (first_at's period to last_at's,
    both included):
      deployment_frequency, change_failure_rate
                        every team, and every repository with a production deployment (any
                        result); from the organisation's first production deployment to its
                        last (the weekly marts' zero-filled weeks);
      production_bugs   every team owning a configured Jira project; from the earliest
                        production bug to the as-of moment;
      security_alerts   every team, and every repository with an alert; from the
                        organisation's earliest alert to the as-of moment. -#}
with

teams as (

    select team from {{ ref('stg_config__teams') }}

),

jira_teams as (

    select distinct team from {{ ref('stg_config__jira_project_teams') }}

),

deployments as (

    select * from {{ ref('fct_deployments') }}

),

bugs as (

    select * from {{ ref('fct_bugs') }}
    where is_production

),

alerts as (

    select * from {{ ref('fct_security_alerts') }}

),

deployment_range as (

    select min(created_at) as first_at, max(created_at) as last_at
    from deployments
    having count(*) > 0

),

bug_range as (

    select min(created_at) as first_at, {{ as_of_timestamp() }} as last_at
    from bugs
    having count(*) > 0

),

alert_range as (

    select min(created_at) as first_at, {{ as_of_timestamp() }} as last_at
    from alerts
    having count(*) > 0

),

delivery_kpis as (

    select kpi_id from (values ('deployment_frequency'), ('change_failure_rate')) as delivery(kpi_id)

),

frames as (

    select delivery_kpis.kpi_id, teams.team, cast(null as varchar) as repository,
           deployment_range.first_at, deployment_range.last_at
    from delivery_kpis
    cross join teams
    cross join deployment_range

    union all

    select delivery_kpis.kpi_id, repositories.team, repositories.repository,
           deployment_range.first_at, deployment_range.last_at
    from delivery_kpis
    cross join (select distinct team, repository from deployments) as repositories
    cross join deployment_range

    union all

    select 'production_bugs', jira_teams.team, cast(null as varchar), bug_range.first_at, bug_range.last_at
    from jira_teams
    cross join bug_range

    union all

    select 'security_alerts', teams.team, cast(null as varchar), alert_range.first_at, alert_range.last_at
    from teams
    cross join alert_range

    union all

    select 'security_alerts', repositories.team, repositories.repository, alert_range.first_at, alert_range.last_at
    from (select distinct team, repository from alerts) as repositories
    cross join alert_range

)

select * from frames
