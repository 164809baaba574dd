{#- Security alerts: one row per code-scanning or Dependabot alert with its severity
    (code scanning: the rule severity; Dependabot: the advisory severity), state, when it
    was opened, fixed and dismissed, and the days it took to fix (dismissals are not fixes).
    closed_at is when it stopped being open: the earlier of fixed and dismissed. -#}
with

code_scanning as (

    select
        'code_scanning'     as kind,
        repository,
        alert_number,
        severity,
        state,
        created_at,
        fixed_at,
        dismissed_at

    from {{ ref('stg_github__code_scanning_alerts') }}

),

dependabot as (

    select
        'dependabot'                                as kind,
        repository,
        alert_number,
        severity,
        state,
        created_at,
        fixed_at,
        coalesce(dismissed_at, auto_dismissed_at)   as dismissed_at

    from {{ ref('stg_github__dependabot_alerts') }}

),

alerts as (

    select * from code_scanning
    union all
    select * from dependabot

),

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

final as (

    select
        alerts.kind || ':' || alerts.repository || '#' || cast(alerts.alert_number as varchar)  as alert_id,
        alerts.kind,
        alerts.repository,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}')          as team,
        alerts.alert_number,
        alerts.severity,
        alerts.state,
        alerts.created_at,
        alerts.fixed_at,
        alerts.dismissed_at,
        case
            when alerts.fixed_at is null then alerts.dismissed_at
            when alerts.dismissed_at is null then alerts.fixed_at
            when alerts.dismissed_at < alerts.fixed_at then alerts.dismissed_at
            else alerts.fixed_at
        end                                                                                 as closed_at,
        {{ week_start('alerts.created_at') }}                                               as week_start,
        case
            when alerts.fixed_at is not null
                then {{ days_between('alerts.created_at', 'alerts.fixed_at') }}
        end                                                                                 as days_to_fix

    from alerts
    left join repository_teams
        on repository_teams.repository = alerts.repository

)

select * from final
