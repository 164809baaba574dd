{#- Every fact a KPI's value for a period is computed from, one row per fact and KPI, in one
    long form (config/kpi_catalogue.yaml, period_aggregation):
      observed_at   the moment that puts the fact in a period (a deployment's created_at, a
                    run's start, a release's planned date, an alert's creation);
      closed_at     open_at_period_end facts only: when the fact stopped being open;
      value         the fact's value for a count, sum, median or max;
      numerator, denominator   the fact's parts of a ratio, percent or mean;
      source, run_id           latest_per_repository facts only: the CI run, to order the
                               runs of a period (latest start, then source, then run id).
    Teams and repositories come from the facts (a repository's team; a Jira issue's current
    project's team). -#}
with

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

deployments as (

    select * from {{ ref('fct_deployments') }}
    where is_successful

),

deployed_pull_requests as (

    select * from {{ ref('fct_pull_requests') }}
    where delivery_status = 'deployed'

),

recovered_failures as (

    select * from {{ ref('fct_recovery_events') }}
    where recovery_hours is not null

),

releases_due as (

    select * from {{ ref('fct_releases') }}
    where delay_days is not null

),

production_bugs as (

    select * from {{ ref('fct_bugs') }}
    where is_production

),

security_alerts as (

    select * from {{ ref('fct_security_alerts') }}

),

coverage_runs as (

    select
        candidates.*,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team
    from {{ ref('int_test_coverage_candidates') }} as candidates
    left join repository_teams
        on repository_teams.repository = candidates.repository

),

api_doc_runs as (

    select
        candidates.*,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team
    from {{ ref('int_api_doc_candidates') }} as candidates
    left join repository_teams
        on repository_teams.repository = candidates.repository

),

finding_runs as (

    select
        candidates.*,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team
    from {{ ref('int_code_finding_candidates') }} as candidates
    left join repository_teams
        on repository_teams.repository = candidates.repository

),

{#- A benchmark run's value: the highest p95 among its scenarios (as fct_performance's
    repository value of the week). -#}
performance_runs as (

    select
        results.source,
        results.repository,
        results.run_id,
        results.run_started_at,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team,
        max(results.p95_ms)                                             as p95_latency_ms

    from {{ ref('int_performance_results') }} as results
    left join repository_teams
        on repository_teams.repository = results.repository
    group by results.source, results.repository, results.run_id, results.run_started_at, repository_teams.team

),

observations as (

    select
        'deployment_frequency'                  as kpi_id,
        team,
        repository,
        created_at                              as observed_at,
        cast(null as timestamp)                 as closed_at,
        cast(1 as double precision)             as value,
        cast(null as double precision)          as numerator,
        cast(null as double precision)          as denominator,
        cast(null as varchar)                   as source,
        cast(null as bigint)                    as run_id
    from deployments

    union all

    select
        'change_failure_rate', team, repository, created_at, cast(null as timestamp),
        cast(null as double precision),
        cast(case when is_failed_change then 1 else 0 end as double precision),
        cast(1 as double precision),
        cast(null as varchar), cast(null as bigint)
    from deployments

    union all

    select
        'lead_time_for_changes', team, repository, deployment_created_at, cast(null as timestamp),
        lead_time_hours, cast(null as double precision), cast(null as double precision),
        cast(null as varchar), cast(null as bigint)
    from deployed_pull_requests

    union all

    select
        'failed_deployment_recovery_time', team, repository, started_at, cast(null as timestamp),
        recovery_hours, cast(null as double precision), cast(null as double precision),
        cast(null as varchar), cast(null as bigint)
    from recovered_failures

    union all

    select
        'release_delay', team, case when source = 'github' then container end,
        cast(planned_date as timestamp), cast(null as timestamp),
        cast(null as double precision), cast(delay_days as double precision), cast(1 as double precision),
        cast(null as varchar), cast(null as bigint)
    from releases_due

    union all

    select
        'release_on_time', team, case when source = 'github' then container end,
        cast(planned_date as timestamp), cast(null as timestamp),
        cast(null as double precision),
        cast(case when is_on_time then 1 else 0 end as double precision), cast(1 as double precision),
        cast(null as varchar), cast(null as bigint)
    from releases_due

    union all

    select
        'production_bugs', team, cast(null as varchar), created_at, cast(null as timestamp),
        cast(1 as double precision), cast(null as double precision), cast(null as double precision),
        cast(null as varchar), cast(null as bigint)
    from production_bugs

    union all

    select
        'test_coverage', team, repository, run_started_at, cast(null as timestamp),
        cast(null as double precision),
        cast(lines_covered as double precision), cast(lines_valid as double precision),
        source, run_id
    from coverage_runs

    union all

    select
        'api_documentation_coverage', team, repository, run_started_at, cast(null as timestamp),
        cast(null as double precision),
        cast(documented_operations as double precision), cast(operations as double precision),
        source, run_id
    from api_doc_runs

    union all

    select
        'code_standard_findings', team, repository, run_started_at, cast(null as timestamp),
        cast(error_findings + warning_findings as double precision),
        cast(null as double precision), cast(null as double precision),
        source, run_id
    from finding_runs

    union all

    select
        'performance_p95_latency', team, repository, run_started_at, cast(null as timestamp),
        p95_latency_ms, cast(null as double precision), cast(null as double precision),
        source, run_id
    from performance_runs

    union all

    select
        'security_alerts', team, repository, created_at, closed_at,
        cast(1 as double precision), cast(null as double precision), cast(null as double precision),
        cast(null as varchar), cast(null as bigint)
    from security_alerts

)

select * from observations
