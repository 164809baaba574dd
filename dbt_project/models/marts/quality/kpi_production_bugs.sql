{#- Production bugs KPI (Jira): per team (of the bug's current project), ISO week and
    current severity, bugs opened (by created), resolved (each transition into the done
    status category, Done or Won't Do), reopened (each transition out of it), open at the
    end of the week (created before the next Monday 00:00 UTC and not in a done status
    then), and the median hours from creation of that week's resolving transitions.
    Weeks for "open" run from the week of the earliest production bug to the week of the
    as-of moment (macro as_of_timestamp); a row exists when any count is non-zero.
    Deleted issues never count (stg_jira__issues leaves them out). -#}
with

bugs as (

    select * from {{ ref('fct_bugs') }}
    where is_production

),

transitions as (

    select transitions.*
    from {{ ref('int_jira__status_transitions') }} as transitions
    inner join bugs
        on bugs.issue_id = transitions.issue_id

),

week_bounds as (

    select
        cast(min(week_start) as timestamp)                          as first_week,
        cast({{ week_start(as_of_timestamp()) }} as timestamp)      as last_week

    from bugs

),

weeks as (

    {{ week_spine('week_bounds') }}

),

{#- Status periods: the bug's status from creation to its first status change (the first
    change's `from` status; the current status without any change), then after each
    change until the next. A period holds at the end of a week when it began strictly
    before the week's end and did not end before it. -#}
periods as (

    select
        bugs.issue_id,
        bugs.created_at                                             as valid_from,
        first_change.changed_at                                     as valid_to,
        coalesce(first_change.from_done, bugs.is_resolved)          as is_done

    from bugs
    left join transitions as first_change
        on first_change.issue_id = bugs.issue_id
        and first_change.transition_number = 1

    union all

    select
        issue_id,
        changed_at                                                  as valid_from,
        next_changed_at                                             as valid_to,
        to_done                                                     as is_done

    from transitions

),

open_at_week_end as (

    select
        bugs.team,
        weeks.week_start,
        bugs.severity,
        'open'                                                      as event,
        cast(null as double precision)                              as hours_to_resolve

    from periods
    inner join bugs
        on bugs.issue_id = periods.issue_id
    inner join weeks
        on periods.valid_from < weeks.week_end
        and (periods.valid_to is null or periods.valid_to >= weeks.week_end)
    where not periods.is_done

),

opened as (

    select team, week_start, severity, 'opened' as event, cast(null as double precision) as hours_to_resolve
    from bugs

),

resolved as (

    select
        bugs.team,
        {{ week_start('transitions.changed_at') }}                  as week_start,
        bugs.severity,
        'resolved'                                                  as event,
        {{ hours_between('bugs.created_at', 'transitions.changed_at') }} as hours_to_resolve

    from transitions
    inner join bugs
        on bugs.issue_id = transitions.issue_id
    where transitions.is_resolution

),

reopened as (

    select
        bugs.team,
        {{ week_start('transitions.changed_at') }}                  as week_start,
        bugs.severity,
        'reopened'                                                  as event,
        cast(null as double precision)                              as hours_to_resolve

    from transitions
    inner join bugs
        on bugs.issue_id = transitions.issue_id
    where transitions.is_reopening

),

events as (

    select * from open_at_week_end
    union all
    select * from opened
    union all
    select * from resolved
    union all
    select * from reopened

),

final as (

    select
        team,
        week_start,
        severity,
        count(case when event = 'opened' then 1 end)                as bugs_opened,
        count(case when event = 'resolved' then 1 end)              as bugs_resolved,
        count(case when event = 'reopened' then 1 end)              as bugs_reopened,
        count(case when event = 'open' then 1 end)                  as open_at_week_end,
        {{ median('hours_to_resolve') }}                            as median_hours_to_resolve

    from events
    group by team, week_start, severity

)

select * from final
