{#- Security alerts KPI: per team, repository, ISO week and severity, the alerts open at the
    end of the week (created before the next Monday 00:00 UTC and neither fixed nor
    dismissed before it), opened, fixed and dismissed in the week, and the median days to
    fix of the week's fixes. Weeks run from the week of the earliest alert to the week of
    the as-of moment (macro as_of_timestamp); a row exists when any count is non-zero. -#}
with

alerts as (

    select * from {{ ref('fct_security_alerts') }}

),

week_bounds as (

    select
        cast(min(week_start) as timestamp)                          as first_week,
        cast({{ week_start(as_of_timestamp()) }} as timestamp)      as last_week

    from alerts

),

weeks as (

    {{ week_spine('week_bounds') }}

),

open_at_week_end as (

    select
        alerts.team,
        alerts.repository,
        weeks.week_start,
        alerts.severity,
        'open'                                      as event,
        cast(null as double precision)              as days_to_fix

    from alerts
    inner join weeks
        on alerts.created_at < weeks.week_end
        and (alerts.closed_at is null or alerts.closed_at >= weeks.week_end)

),

opened as (

    select team, repository, week_start, severity, 'opened' as event, cast(null as double precision) as days_to_fix
    from alerts

),

fixed as (

    select team, repository, {{ week_start('fixed_at') }} as week_start, severity, 'fixed' as event, days_to_fix
    from alerts
    where fixed_at is not null

),

dismissed as (

    select
        team, repository, {{ week_start('dismissed_at') }} as week_start, severity, 'dismissed' as event,
        cast(null as double precision) as days_to_fix
    from alerts
    where dismissed_at is not null

),

events as (

    select * from open_at_week_end
    union all
    select * from opened
    union all
    select * from fixed
    union all
    select * from dismissed

),

final as (

    select
        team,
        repository,
        week_start,
        severity,
        count(case when event = 'open' then 1 end)          as open_alerts,
        count(case when event = 'opened' then 1 end)        as opened_alerts,
        count(case when event = 'fixed' then 1 end)         as fixed_alerts,
        count(case when event = 'dismissed' then 1 end)     as dismissed_alerts,
        {{ median('days_to_fix') }}                         as median_days_to_fix

    from events
    group by team, repository, week_start, severity

)

select * from final
