{#- Every KPI of the catalogue for every period (day, week, month, quarter) between the
    earliest fact of any KPI and the as-of moment (or the latest fact, if later), for every
    team and, for KPIs with repository_rows, every repository with a fact of the KPI (or a
    zero-fill frame): one long form that kpi_period (week, month, quarter) and kpi_daily
    (day) read. A value is computed from the facts of its period (int_kpi_observations) by
    the KPI's period_aggregation in the catalogue (stg_config__kpis):
      facts   in_period: the facts observed in the period; latest_per_repository: per
              repository the latest run of the period (start, then source, then run id);
              open_at_period_end: the facts open at period_end 00:00;
      value   count, sum, ratio (sum(numerator) / sum(denominator)), percent (100 * that),
              mean (the same quotient), median, max.
    Without a fact the value is null ("no data"), except in a zero-fill frame
    (int_kpi_zero_fill_frames) of a zero-filled KPI: 0 for a count or sum, a ratio's parts
    0 (its value stays null). Materialised once for both marts. -#}
{{ config(materialized='table') }}
{%- set grains = period_grains() -%}
with

kpis as (

    select * from {{ ref('stg_config__kpis') }}
    where status = 'implemented'

),

teams as (

    select team from {{ ref('stg_config__teams') }}

),

observations as (

    select
        observations.*,
        kpis.period_facts,
        kpis.repository_rows

    from {{ ref('int_kpi_observations') }} as observations
    inner join kpis
        on kpis.kpi_id = observations.kpi_id

),

frames as (

    select frames.*
    from {{ ref('int_kpi_zero_fill_frames') }} as frames
    inner join kpis
        on kpis.kpi_id = frames.kpi_id
    where kpis.zero_filled

),

moments as (

    select min(observed_at) as first_at, max(observed_at) as last_at from observations
    union all
    select min(first_at), max(last_at) from frames
    union all
    select {{ as_of_timestamp() }}, {{ as_of_timestamp() }}

),

bounds as (

    select min(first_at) as first_at, max(last_at) as last_at from moments

),

periods as (

    {{ period_spine(grains, 'bounds') }}

),

dated_facts as (

    {%- for grain in grains %}
    select
        '{{ grain }}'                                       as period_grain,
        {{ period_start(grain, 'observations.observed_at') }} as period_start,
        observations.*
    from observations
    where observations.period_facts in ('in_period', 'latest_per_repository')
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}

),

latest_runs as (

    select
        dated_facts.*,
        row_number() over (
            partition by period_grain, period_start, kpi_id, repository
            order by observed_at desc, source desc, run_id desc
        )                                                   as recency

    from dated_facts
    where period_facts = 'latest_per_repository'

),

open_at_period_end as (

    select
        periods.period_grain,
        periods.period_start,
        observations.*

    from observations
    inner join periods
        on observations.observed_at < cast(periods.period_end as timestamp)
        and (observations.closed_at is null or observations.closed_at >= cast(periods.period_end as timestamp))
    where observations.period_facts = 'open_at_period_end'

),

period_facts as (

    select period_grain, period_start, kpi_id, team, repository, repository_rows, value, numerator, denominator
    from dated_facts
    where period_facts = 'in_period'

    union all

    select period_grain, period_start, kpi_id, team, repository, repository_rows, value, numerator, denominator
    from latest_runs
    where recency = 1

    union all

    select period_grain, period_start, kpi_id, team, repository, repository_rows, value, numerator, denominator
    from open_at_period_end

),

team_aggregates as (

    select
        period_grain,
        period_start,
        kpi_id,
        team,
        cast(null as varchar)                   as repository,
        count(*)                                as observations,
        sum(value)                              as value_sum,
        max(value)                              as value_max,
        {{ median('value') }}                   as value_median,
        sum(numerator)                          as numerator_sum,
        sum(denominator)                        as denominator_sum

    from period_facts
    group by period_grain, period_start, kpi_id, team

),

repository_aggregates as (

    select
        period_grain,
        period_start,
        kpi_id,
        team,
        repository,
        count(*)                                as observations,
        sum(value)                              as value_sum,
        max(value)                              as value_max,
        {{ median('value') }}                   as value_median,
        sum(numerator)                          as numerator_sum,
        sum(denominator)                        as denominator_sum

    from period_facts
    where repository is not null
        and repository_rows
    group by period_grain, period_start, kpi_id, team, repository

),

aggregates as (

    select * from team_aggregates
    union all
    select * from repository_aggregates

),

repository_members as (

    select distinct kpi_id, team, repository
    from observations
    where repository is not null
        and repository_rows

    union

    select frames.kpi_id, frames.team, frames.repository
    from frames
    inner join kpis
        on kpis.kpi_id = frames.kpi_id
    where frames.repository is not null
        and kpis.repository_rows

),

cells as (

    select periods.*, teams.team, cast(null as varchar) as repository, kpis.kpi_id
    from periods
    cross join teams
    cross join kpis

    union all

    select periods.*, repository_members.team, repository_members.repository, repository_members.kpi_id
    from periods
    cross join repository_members

),

valued as (

    select
        cells.*,
        kpis.period_value,
        aggregates.observations                                     as fact_count,
        aggregates.value_sum,
        aggregates.value_max,
        aggregates.value_median,
        aggregates.numerator_sum,
        aggregates.denominator_sum,
        frames.kpi_id is not null                                   as is_zero_filled

    from cells
    inner join kpis
        on kpis.kpi_id = cells.kpi_id
    left join aggregates
        on aggregates.period_grain = cells.period_grain
        and aggregates.period_start = cells.period_start
        and aggregates.kpi_id = cells.kpi_id
        and aggregates.team = cells.team
        and coalesce(aggregates.repository, '') = coalesce(cells.repository, '')
    left join frames
        on frames.kpi_id = cells.kpi_id
        and frames.team = cells.team
        and coalesce(frames.repository, '') = coalesce(cells.repository, '')
        and cast(cells.period_end as timestamp) > frames.first_at
        and cast(cells.period_start as timestamp) <= frames.last_at

),

final as (

    select
        period_grain,
        period_start,
        period_end,
        cast(period_end as timestamp) <= {{ as_of_timestamp() }}   as is_complete,
        team,
        repository,
        kpi_id,
        case
            when fact_count is not null then
                case period_value
                    when 'count' then cast(fact_count as double precision)
                    when 'sum' then value_sum
                    when 'max' then value_max
                    when 'median' then value_median
                    when 'percent' then {{ percent_of('numerator_sum', 'denominator_sum') }}
                    else numerator_sum / nullif(denominator_sum, 0)
                end
            when is_zero_filled and period_value in ('count', 'sum') then cast(0 as double precision)
        end                                                         as value,
        case
            when fact_count is not null then
                case period_value
                    when 'count' then cast(fact_count as double precision)
                    when 'sum' then value_sum
                    when 'ratio' then numerator_sum
                    when 'percent' then numerator_sum
                    when 'mean' then numerator_sum
                end
            when is_zero_filled and period_value in ('count', 'sum', 'ratio') then cast(0 as double precision)
        end                                                         as numerator,
        case
            when fact_count is not null and period_value in ('ratio', 'percent', 'mean') then denominator_sum
            when is_zero_filled and period_value = 'ratio' then cast(0 as double precision)
        end                                                         as denominator,
        cast(coalesce(fact_count, 0) as bigint)                     as observations

    from valued

)

select * from final
