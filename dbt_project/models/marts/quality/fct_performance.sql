{#- Performance: one row per repository, ISO week and benchmark/scenario, from the latest
    default-branch CI run of the week (any conclusion) with a benchmark or load-test result
    that has a p95. Each row is compared with the same scenario in the previous run that
    reported it: a regression is a p95 more than var performance_regression_percent
    (default 10) percent above that previous p95. -#}
{%- set regression_percent = var('performance_regression_percent', 10) -%}
with

results as (

    select * from {{ ref('int_performance_results') }}

),

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

runs as (

    select distinct source, repository, run_id, run_started_at
    from results

),

ranked_runs as (

    select
        runs.*,
        {{ week_start('runs.run_started_at') }}         as week_start,
        row_number() over (
            partition by runs.repository, {{ week_start('runs.run_started_at') }}
            order by runs.run_started_at desc, runs.source desc, runs.run_id desc
        )                                               as recency

    from runs

),

final as (

    select
        results.repository,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}')  as team,
        ranked_runs.week_start,
        results.source,
        results.run_id,
        results.run_started_at,
        results.file_name,
        results.benchmark,
        results.p50_ms,
        results.p95_ms,
        results.samples,
        results.previous_run_id,
        results.previous_p95_ms,
        case
            when results.previous_p95_ms > 0
                then 100.0 * (results.p95_ms - results.previous_p95_ms) / results.previous_p95_ms
        end                                                                         as p95_change_percent,
        coalesce(
            results.p95_ms > results.previous_p95_ms * (1 + {{ regression_percent }} / 100.0), false
        )                                                                           as is_regression

    from ranked_runs
    inner join results
        on results.source = ranked_runs.source
        and results.repository = ranked_runs.repository
        and results.run_id = ranked_runs.run_id
    left join repository_teams
        on repository_teams.repository = results.repository
    where ranked_runs.recency = 1

)

select * from final
