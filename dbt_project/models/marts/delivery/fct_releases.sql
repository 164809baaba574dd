{#- One row per release with a planned date:
      jira    every Jira fix version with a releaseDate (archived ones included): planned =
              releaseDate; actual = the day it shipped (`released: YYYY-MM-DD` in its
              description; releaseDate when released without one), only once released;
              team = the version's project's team;
      github  every GitHub milestone with a due_on: planned = due_on's UTC date; actual =
              closed_at's UTC date once closed (closing the milestone is its release);
              team = the repository's team.
    delay_days = actual - planned (negative = early). An unreleased release planned before
    the as-of date (macro as_of_timestamp, UTC) is overdue and counts as late with delay =
    as-of date - planned; one planned on or after it is scheduled (no delay yet).
    is_on_time = delay_days <= 0 (null while scheduled). -#}
with

versions as (

    select * from {{ ref('stg_jira__project_versions') }}
    where planned_release_date is not null

),

project_teams as (

    select * from {{ ref('stg_config__jira_project_teams') }}

),

milestones as (

    select * from {{ ref('stg_github__milestones') }}
    where due_on is not null

),

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

jira_releases as (

    select
        'jira:' || cast(versions.version_id as varchar)             as release_key,
        'jira'                                                      as source,
        coalesce(project_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team,
        versions.project_key                                        as container,
        versions.version_name                                       as release_name,
        versions.planned_release_date                               as planned_date,
        case
            when versions.is_released
            then coalesce(versions.released_on, versions.planned_release_date)
        end                                                         as actual_date

    from versions
    left join project_teams
        on project_teams.project_key = versions.project_key

),

github_releases as (

    select
        'github:' || milestones.repository || '#' || cast(milestones.milestone_number as varchar) as release_key,
        'github'                                                    as source,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team,
        milestones.repository                                       as container,
        milestones.title                                            as release_name,
        cast(milestones.due_on as date)                             as planned_date,
        case
            when milestones.state = 'closed' then cast(milestones.closed_at as date)
        end                                                         as actual_date

    from milestones
    left join repository_teams
        on repository_teams.repository = milestones.repository

),

releases as (

    select * from jira_releases
    union all
    select * from github_releases

),

as_of as (

    select cast({{ as_of_timestamp() }} as date) as as_of_date

),

measured as (

    select
        releases.*,
        case
            when releases.actual_date is not null
                then {{ days_from('releases.planned_date', 'releases.actual_date') }}
            when releases.planned_date < as_of.as_of_date
                then {{ days_from('releases.planned_date', 'as_of.as_of_date') }}
        end                                                         as delay_days

    from releases
    cross join as_of

),

final as (

    select
        release_key,
        source,
        team,
        container,
        release_name,
        planned_date,
        {{ week_start('planned_date') }}                            as planned_week_start,
        actual_date,
        actual_date is not null                                     as is_released,
        delay_days,
        delay_days <= 0                                             as is_on_time,
        case
            when actual_date is not null and delay_days < 0 then 'early'
            when actual_date is not null and delay_days = 0 then 'on_time'
            when actual_date is not null then 'late'
            when delay_days is not null then 'overdue'
            else 'scheduled'
        end                                                         as status

    from measured

)

select * from final
