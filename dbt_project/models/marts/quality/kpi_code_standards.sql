{#- Code-standard findings KPI: each repository's error and warning findings of the week
    (fct_code_findings) and its team's sums over the repositories with a SARIF log that week. -#}
with

findings as (

    select * from {{ ref('fct_code_findings') }}

),

team_totals as (

    select
        team,
        week_start,
        cast(sum(error_findings) as bigint)     as team_error_findings,
        cast(sum(warning_findings) as bigint)   as team_warning_findings

    from findings
    group by team, week_start

),

final as (

    select
        findings.team,
        findings.repository,
        findings.week_start,
        findings.source,
        findings.run_id,
        findings.run_started_at,
        findings.error_findings,
        findings.warning_findings,
        findings.findings,
        team_totals.team_error_findings,
        team_totals.team_warning_findings,
        team_totals.team_error_findings + team_totals.team_warning_findings    as team_findings

    from findings
    inner join team_totals
        on team_totals.team = findings.team
        and team_totals.week_start = findings.week_start

)

select * from final
