{#- Each team's scorecard (config/scorecards.yaml): for every period of the scorecard's
    grain and every rule, the team's kpi_period value judged against the rule -- met (the
    target holds: its points added), missed (the floor holds: its points taken), not_met
    (neither: 0) or no_data (no value for the period: 0) -- and the team's total for the
    period. Teams only: no person is scored. -#}
with

rules as (

    select * from {{ ref('stg_config__scorecard_rules') }}

),

period_values as (

    select * from {{ ref('kpi_period') }}
    where repository is null

),

judged as (

    select
        rules.team,
        rules.period_grain,
        period_values.period_start,
        period_values.period_end,
        period_values.is_complete,
        rules.kpi_id,
        rules.rule,
        rules.description,
        period_values.value,
        case
            when period_values.value is null then 'no_data'
            when rules.met_operator is not null
                and {{ condition_holds('period_values.value', 'rules.met_operator', 'rules.met_threshold') }}
                then 'met'
            when rules.missed_operator is not null
                and {{ condition_holds('period_values.value', 'rules.missed_operator', 'rules.missed_threshold') }}
                then 'missed'
            else 'not_met'
        end                                                         as status,
        rules.met_points,
        rules.missed_points

    from rules
    inner join period_values
        on period_values.team = rules.team
        and period_values.period_grain = rules.period_grain
        and period_values.kpi_id = rules.kpi_id

),

scored as (

    select
        judged.*,
        case when status = 'no_data' then cast(null as boolean) else status = 'met' end    as is_met,
        cast(case status
            when 'met' then met_points
            when 'missed' then missed_points
            else 0
        end as integer)                                                                     as points

    from judged

),

final as (

    select
        team,
        period_grain,
        period_start,
        period_end,
        is_complete,
        kpi_id,
        rule,
        description,
        value,
        status,
        is_met,
        points,
        cast(sum(points) over team_period as integer)                                      as total_points,
        cast(count(case when status = 'met' then 1 end) over team_period as integer)       as rules_met,
        cast(count(case when status = 'missed' then 1 end) over team_period as integer)    as rules_missed,
        cast(count(case when status = 'no_data' then 1 end) over team_period as integer)   as rules_without_data

    from scored
    window team_period as (partition by team, period_grain, period_start)

)

select * from final
