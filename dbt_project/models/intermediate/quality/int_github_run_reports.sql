{#- The parsed reports of default-branch runs, one row per report file. Only parsed kinds
    (coverage, sarif, openapi, performance): a rejected record (a file that did not parse)
    never reaches a KPI. -#}
with

runs as (

    select * from {{ ref('int_github_default_branch_runs') }}

),

reports as (

    select * from {{ ref('stg_github__artifact_reports') }}

),

run_reports as (

    select
        runs.source,
        runs.repository,
        runs.run_id,
        runs.run_started_at,
        runs.is_successful,
        reports.file_name,
        reports.report_kind,
        reports.lines_valid,
        reports.lines_covered,
        reports.operations_total,
        reports.documented_operations

    from runs
    inner join reports
        on reports.repository = runs.repository
        and reports.run_id = runs.run_id
    where reports.report_kind in ('coverage', 'sarif', 'openapi', 'performance')

)

select * from run_reports
