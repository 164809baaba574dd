{#- Test coverage of the default branch: one row per repository and ISO week, from the
    latest (by start; ties: source, then run id) successful default-branch CI run started in
    the week that has a coverage report, across CI systems. -#}
with

latest as (

    {{ latest_run_per_repository_week(ref('int_test_coverage_candidates')) }}

),

final as (

    select
        latest.repository,
        latest.team,
        latest.week_start,
        latest.source,
        latest.run_id,
        latest.run_started_at,
        latest.lines_covered,
        latest.lines_valid,
        {{ percent_of('latest.lines_covered', 'latest.lines_valid') }}                as line_coverage_percent

    from latest

)

select * from final
