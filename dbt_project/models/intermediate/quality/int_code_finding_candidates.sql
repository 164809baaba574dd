{#- Every default-branch CI run (any conclusion) that archived a SARIF log, with its results
    counted by level over the run's SARIF files. A log without results is a candidate with
    zero findings. -#}
with

reports as (

    select * from {{ ref('int_github_run_reports') }}
    where report_kind = 'sarif'

),

counts as (

    select * from {{ ref('stg_github__artifact_report_sarif_counts') }}

),

levels as (

    select
        counts.repository,
        counts.run_id,
        counts.file_name,
        cast(sum(case when counts.level = 'error' then counts.result_count else 0 end) as bigint)   as error_findings,
        cast(sum(case when counts.level = 'warning' then counts.result_count else 0 end) as bigint) as warning_findings,
        cast(sum(case when counts.level = 'note' then counts.result_count else 0 end) as bigint)    as note_findings

    from counts
    group by counts.repository, counts.run_id, counts.file_name

),

candidates as (

    select
        reports.source,
        reports.repository,
        reports.run_id,
        reports.run_started_at,
        cast(coalesce(sum(levels.error_findings), 0) as bigint)     as error_findings,
        cast(coalesce(sum(levels.warning_findings), 0) as bigint)   as warning_findings,
        cast(coalesce(sum(levels.note_findings), 0) as bigint)      as note_findings,
        count(*)                                                    as report_files

    from reports
    left join levels
        on levels.repository = reports.repository
        and levels.run_id = reports.run_id
        and levels.file_name = reports.file_name
    group by reports.source, reports.repository, reports.run_id, reports.run_started_at

)

select * from candidates
