{#- Performance KPI: per repository and week, the highest p95 among the scenarios of the
    week's latest default-branch benchmark/load-test result (fct_performance), how many of
    them regressed, and per team the maximum over its repositories with a result that week. -#}
with

scenarios as (

    select * from {{ ref('fct_performance') }}

),

repository_weeks as (

    select
        team,
        repository,
        week_start,
        source,
        run_id,
        run_started_at,
        max(p95_ms)                                         as p95_latency_ms,
        count(*)                                            as scenarios,
        count(case when is_regression then 1 end)           as regressed_scenarios

    from scenarios
    group by team, repository, week_start, source, run_id, run_started_at

),

final as (

    select
        repository_weeks.*,
        max(p95_latency_ms) over (partition by team, week_start)    as team_max_p95_latency_ms

    from repository_weeks

)

select * from final
