{#- Change failure rate (DORA): of the successful production deployments created in the
    week, the share that caused an incident or were rolled back. Same team x week rows as
    kpi_deployment_frequency (zero-filled); the rate is null in a week without successful
    deployments. -#}
with

spine as (

    select team, week_start, successful_deployments
    from {{ ref('kpi_deployment_frequency') }}

),

deployments as (

    select * from {{ ref('fct_deployments') }}
    where is_successful

),

weekly as (

    select
        team,
        week_start,
        sum(case when incidents_caused > 0 then 1 else 0 end)  as deployments_with_incident,
        sum(case when is_rolled_back then 1 else 0 end)        as rolled_back_deployments,
        sum(case when is_failed_change then 1 else 0 end)      as failed_changes,
        sum(incidents_caused)                                  as attributed_incidents

    from deployments
    group by team, week_start

),

final as (

    select
        spine.team,
        spine.week_start,
        spine.successful_deployments,
        cast(coalesce(weekly.deployments_with_incident, 0) as bigint)  as deployments_with_incident,
        cast(coalesce(weekly.rolled_back_deployments, 0) as bigint)    as rolled_back_deployments,
        cast(coalesce(weekly.failed_changes, 0) as bigint)             as failed_changes,
        case
            when spine.successful_deployments > 0
            then cast(coalesce(weekly.failed_changes, 0) as double precision) / spine.successful_deployments
        end                                                            as change_failure_rate,
        cast(coalesce(weekly.attributed_incidents, 0) as bigint)       as attributed_incidents

    from spine
    left join weekly
        on weekly.team = spine.team
        and weekly.week_start = spine.week_start

)

select * from final
