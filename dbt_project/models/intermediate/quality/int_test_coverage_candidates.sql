{#- Every CI run that may give a repository's test coverage for its week: successful
    default-branch runs with a coverage report, one row per (source, repository, run).
    Lines are summed over the run's coverage report files (one per module in a multi-module
    build). The one place where CI systems are unioned: GitHub Actions runs, and Jenkins
    builds with result SUCCESS (UNSTABLE is not successful) on the repository's default
    branch that archived a coverage report (source = 'jenkins', run_id = build number). -#}
with

github_reports as (

    select * from {{ ref('int_github_run_reports') }}
    where report_kind = 'coverage'
        and is_successful
        and lines_valid is not null
        and lines_covered is not null

),

github_actions as (

    select
        source,
        repository,
        run_id,
        run_started_at,
        cast(sum(lines_covered) as bigint)      as lines_covered,
        cast(sum(lines_valid) as bigint)        as lines_valid,
        count(*)                                as report_files

    from github_reports
    group by source, repository, run_id, run_started_at

),

jenkins_reports as (

    select
        builds.repository,
        builds.build_number,
        builds.started_at,
        reports.lines_covered,
        reports.lines_valid

    from {{ ref('stg_jenkins__build_reports') }} as reports
    inner join {{ ref('stg_jenkins__builds') }} as builds
        on builds.job = reports.job
        and builds.build_number = reports.build_number
    inner join {{ ref('stg_github__repositories') }} as repositories
        on repositories.repository = builds.repository
        and repositories.default_branch = builds.branch
    where reports.report_kind = 'coverage'
        and builds.result = 'SUCCESS'
        and reports.lines_valid is not null
        and reports.lines_covered is not null

),

jenkins as (

    select
        'jenkins'                               as source,
        repository,
        build_number                            as run_id,
        started_at                              as run_started_at,
        cast(sum(lines_covered) as bigint)      as lines_covered,
        cast(sum(lines_valid) as bigint)        as lines_valid,
        count(*)                                as report_files

    from jenkins_reports
    group by repository, build_number, started_at

),

candidates as (

    select * from github_actions
    union all
    select * from jenkins

)

select * from candidates
