{#- Every key result of every OKR period, scored at the as-of moment.

    A KPI key result reads its KPI from kpi_period (the quarter of its objective's period,
    the owner team's row, or the repository's row at repository scope); a KPI counted over
    the period (period_value count or sum of in-period facts: deployments, production bugs)
    is read as a weekly rate over the elapsed part of the period, so that a quarter half
    gone compares with a weekly target. A manual key result reads its latest check-in on
    or before the as-of date. Score and status follow config/okr_scoring.yaml. -#}
with

key_results as (

    select * from {{ ref('stg_okrs__key_results') }}

),

objectives as (

    select * from {{ ref('stg_okrs__objectives') }}

),

kpis as (

    select * from {{ ref('stg_config__kpis') }}

),

scoring as (

    select * from {{ ref('stg_okrs__scoring') }}

),

quarters as (

    select * from {{ ref('kpi_period') }}
    where period_grain = 'quarter'

),

check_ins as (

    select * from {{ ref('stg_okrs__check_ins') }}
    where check_in_date <= cast({{ as_of_timestamp() }} as date)

),

latest_check_ins as (

    select
        key_result_id,
        check_in_date,
        value,
        confidence,
        row_number() over (partition by key_result_id order by check_in_date desc) as recency_rank,
        count(*) over (partition by key_result_id)                                 as check_ins

    from check_ins

),

timing as (

    select
        objectives.objective_id,
        objectives.period,
        objectives.period_start,
        objectives.period_end,
        objectives.owner_team,
        {{ as_of_timestamp() }}                                                    as as_of,
        {{ hours_between('cast(objectives.period_start as timestamp)',
                         'cast(objectives.period_end as timestamp)') }} / 24.0     as period_days,
        greatest(0.0, {{ hours_between('cast(objectives.period_start as timestamp)',
            'least(' ~ as_of_timestamp() ~ ', cast(objectives.period_end as timestamp))') }} / 24.0)
                                                                                   as elapsed_days

    from objectives

),

timed as (

    select
        key_results.*,
        timing.owner_team                                                          as team,
        timing.period_start,
        timing.period_end,
        timing.as_of,
        timing.elapsed_days,
        least(1.0, greatest(0.0, timing.elapsed_days / timing.period_days))        as expected_progress

    from key_results
    inner join timing
        on timing.objective_id = key_results.objective_id

),

kpi_values as (

    select
        timed.key_result_id,
        quarters.value                                                             as period_value,
        kpis.period_facts = 'in_period' and kpis.period_value in ('count', 'sum')  as is_weekly_rate

    from timed
    inner join kpis
        on kpis.kpi_id = timed.kpi_id
    left join quarters
        on quarters.kpi_id = timed.kpi_id
        and quarters.period_start = timed.period_start
        and quarters.team = timed.team
        and (
            (timed.kpi_scope = 'team' and quarters.repository is null)
            or (timed.kpi_scope = 'repository' and quarters.repository = timed.repository)
        )
    where timed.key_result_kind = 'kpi'

),

valued as (

    select
        timed.*,
        case
            when timed.key_result_kind = 'manual' then latest_check_ins.value
            when kpi_values.is_weekly_rate and timed.elapsed_days > 0
                then kpi_values.period_value / (timed.elapsed_days / 7.0)
            when kpi_values.is_weekly_rate then null
            else kpi_values.period_value
        end                                                                        as current_value,
        case
            when timed.key_result_kind = 'manual' then 'check_in'
            when kpi_values.is_weekly_rate then 'kpi_period_weekly_rate'
            else 'kpi_period'
        end                                                                        as value_source,
        latest_check_ins.check_in_date                                             as latest_check_in_date,
        latest_check_ins.confidence                                                as latest_confidence,
        coalesce(latest_check_ins.check_ins, 0)                                    as check_ins

    from timed
    left join kpi_values
        on kpi_values.key_result_id = timed.key_result_id
    left join latest_check_ins
        on latest_check_ins.key_result_id = timed.key_result_id
        and latest_check_ins.recency_rank = 1

),

scored as (

    select
        valued.*,
        (valued.current_value - valued.baseline) / (valued.target - valued.baseline)
                                                                                   as progress,
        {{ clamp_unit('(valued.current_value - valued.baseline) / (valued.target - valued.baseline)') }}
                                                                                   as score

    from valued

),

final as (

    select
        scored.period,
        scored.period_start,
        scored.period_end,
        scored.objective_id,
        scored.key_result_id,
        scored.title,
        scored.team,
        scored.weight,
        scored.key_result_kind,
        scored.kpi_id,
        scored.kpi_scope,
        scored.repository,
        scored.unit,
        scored.direction,
        scored.baseline,
        scored.target,
        scored.current_value,
        scored.value_source,
        scored.latest_check_in_date,
        scored.latest_confidence,
        scored.check_ins,
        scored.progress,
        scored.score,
        scored.expected_progress,
        {{ okr_status('scored.score', 'scored.expected_progress') }}               as status,
        scored.as_of

    from scored
    cross join scoring

)

select * from final
