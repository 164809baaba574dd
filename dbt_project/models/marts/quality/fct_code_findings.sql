{#- Code-standard findings: one row per repository and ISO week, the SARIF results of the
    latest default-branch CI run of the week (any conclusion) that archived a SARIF log,
    by level. Findings = error + warning (notes are not findings). -#}
with

latest as (

    {{ latest_run_per_repository_week(ref('int_code_finding_candidates')) }}

),

final as (

    select
        latest.repository,
        latest.team,
        latest.week_start,
        latest.source,
        latest.run_id,
        latest.run_started_at,
        latest.error_findings,
        latest.warning_findings,
        latest.note_findings,
        latest.error_findings + latest.warning_findings                             as findings

    from latest

)

select * from final
