{#- Test coverage KPI: each repository's line coverage of the week (fct_test_coverage) and
    its team's, weighted by lines valid (sums over the team's repositories with a report
    that week). -#}
with

coverage as (

    select * from {{ ref('fct_test_coverage') }}

),

team_totals as (

    select
        team,
        week_start,
        cast(sum(lines_covered) as bigint)      as team_lines_covered,
        cast(sum(lines_valid) as bigint)        as team_lines_valid

    from coverage
    group by team, week_start

),

final as (

    select
        coverage.team,
        coverage.repository,
        coverage.week_start,
        coverage.source,
        coverage.run_id,
        coverage.run_started_at,
        coverage.lines_covered,
        coverage.lines_valid,
        coverage.line_coverage_percent,
        team_totals.team_lines_covered,
        team_totals.team_lines_valid,
        {{ percent_of('team_totals.team_lines_covered', 'team_totals.team_lines_valid') }} as team_line_coverage_percent

    from coverage
    inner join team_totals
        on team_totals.team = coverage.team
        and team_totals.week_start = coverage.week_start

)

select * from final
