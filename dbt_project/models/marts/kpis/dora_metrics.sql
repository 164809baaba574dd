{#- The four DORA keys per team and period (week, month, quarter) with their DORA 2023
    performance level: each key's value is the team's kpi_period value (computed from the
    period's facts), and its level the first of elite, high, medium whose condition in the
    catalogue's dora_levels holds on the key's measure (the value, or the value per day of
    the period), else low; no level without data. -#}
with

period_values as (

    select * from {{ ref('kpi_period') }}
    where repository is null
        and kpi_id in ('deployment_frequency', 'lead_time_for_changes', 'change_failure_rate',
                       'failed_deployment_recovery_time')

),

levels as (

    select * from {{ ref('stg_config__dora_levels') }}

),

measures as (

    select distinct kpi_id, measure from levels

),

measured as (

    select
        period_values.*,
        {{ days_from('period_values.period_start', 'period_values.period_end') }}     as days_in_period,
        case
            when measures.measure = 'per_day'
                then period_values.value / {{ days_from('period_values.period_start', 'period_values.period_end') }}
            else period_values.value
        end                                                                         as measured_value

    from period_values
    inner join measures
        on measures.kpi_id = period_values.kpi_id

),

ranked as (

    select
        measured.period_grain,
        measured.period_start,
        measured.team,
        measured.kpi_id,
        min(levels.level_rank)                                                      as level_rank

    from measured
    inner join levels
        on levels.kpi_id = measured.kpi_id
        and (levels.operator is null
             or {{ condition_holds('measured.measured_value', 'levels.operator', 'levels.threshold') }})
    where measured.measured_value is not null
    group by measured.period_grain, measured.period_start, measured.team, measured.kpi_id

),

leveled as (

    select
        measured.*,
        levels.level

    from measured
    left join ranked
        on ranked.period_grain = measured.period_grain
        and ranked.period_start = measured.period_start
        and ranked.team = measured.team
        and ranked.kpi_id = measured.kpi_id
    left join levels
        on levels.kpi_id = ranked.kpi_id
        and levels.level_rank = ranked.level_rank

),

final as (

    select
        team,
        period_grain,
        period_start,
        period_end,
        days_in_period,
        is_complete,
        cast(max(case when kpi_id = 'deployment_frequency' then value end) as bigint)      as successful_deployments,
        max(case when kpi_id = 'deployment_frequency' then measured_value end)             as deployments_per_day,
        max(case when kpi_id = 'deployment_frequency' then level end)                      as deployment_frequency_level,
        cast(max(case when kpi_id = 'lead_time_for_changes' then observations end) as bigint) as deployed_pull_requests,
        max(case when kpi_id = 'lead_time_for_changes' then value end)                     as median_lead_time_hours,
        max(case when kpi_id = 'lead_time_for_changes' then level end)                     as lead_time_level,
        cast(max(case when kpi_id = 'change_failure_rate' then numerator end) as bigint)   as failed_changes,
        max(case when kpi_id = 'change_failure_rate' then value end)                       as change_failure_rate,
        max(case when kpi_id = 'change_failure_rate' then level end)                       as change_failure_rate_level,
        cast(max(case when kpi_id = 'failed_deployment_recovery_time' then observations end) as bigint)
                                                                                            as recovered_failures,
        max(case when kpi_id = 'failed_deployment_recovery_time' then value end)           as median_recovery_hours,
        max(case when kpi_id = 'failed_deployment_recovery_time' then level end)           as recovery_time_level

    from leveled
    group by team, period_grain, period_start, period_end, days_in_period, is_complete

)

select * from final
