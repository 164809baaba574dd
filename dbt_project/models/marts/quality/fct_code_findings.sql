{#- Code-standard findings: one row per repository and ISO week, the SARIF results of the
    latest default-branch CI run of the week (any conclusion) that archived a SARIF log,
    by level. Findings = error + warning (notes are not findings). -#}
with

candidates as (

    select * from {{ ref('int_code_finding_candidates') }}

),

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

ranked as (

    select
        candidates.*,
        {{ week_start('candidates.run_started_at') }}   as week_start,
        row_number() over (
            partition by candidates.repository, {{ week_start('candidates.run_started_at') }}
            order by candidates.run_started_at desc, candidates.source desc, candidates.run_id desc
        )                                               as recency

    from candidates

),

final as (

    select
        ranked.repository,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}')  as team,
        ranked.week_start,
        ranked.source,
        ranked.run_id,
        ranked.run_started_at,
        ranked.error_findings,
        ranked.warning_findings,
        ranked.note_findings,
        ranked.error_findings + ranked.warning_findings                             as findings

    from ranked
    left join repository_teams
        on repository_teams.repository = ranked.repository
    where ranked.recency = 1

)

select * from final
