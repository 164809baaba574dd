{#- Every benchmark / load-test scenario result of a default-branch CI run (any
    conclusion), with the same scenario's result in the previous run that reported it.
    A scenario is identified by its report file and name within the repository. Rows
    without a p95 (pytest-benchmark without saved raw data) are left out. -#}
with

reports as (

    select * from {{ ref('int_github_run_reports') }}
    where report_kind = 'performance'

),

benchmarks as (

    select * from {{ ref('stg_github__artifact_report_benchmarks') }}
    where p95_ms is not null

),

results as (

    select
        reports.source,
        reports.repository,
        reports.run_id,
        reports.run_started_at,
        reports.file_name,
        benchmarks.benchmark,
        benchmarks.p50_ms,
        benchmarks.p95_ms,
        benchmarks.samples

    from reports
    inner join benchmarks
        on benchmarks.repository = reports.repository
        and benchmarks.run_id = reports.run_id
        and benchmarks.file_name = reports.file_name

),

with_previous as (

    select
        results.*,
        lag(run_id) over scenario_runs      as previous_run_id,
        lag(p95_ms) over scenario_runs      as previous_p95_ms

    from results
    window scenario_runs as (
        partition by repository, file_name, benchmark
        order by run_started_at, source, run_id
    )

)

select * from with_previous
