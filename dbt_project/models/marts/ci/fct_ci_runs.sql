{#- Every CI run of the three CI systems in one grain: a GitHub Actions workflow run (its
    latest attempt), a Jenkins build, a GitLab pipeline. Results are normalised to
    success / failure / cancelled / skipped / running (the mapping is in the model's YAML);
    the duration is wall-clock, start to finish, the same definition for all three.

    Incremental, by load order like the staging tables it reads (macros/incremental.sql):
    a run's row depends only on its own staged records (plus the repository's default
    branch and team, which change only with configuration; kpi/dbt_runner.py rebuilds the
    incremental models in full when those change). A night rebuilds the runs whose staged
    records were loaded after the newest `source_loaded_at` this table holds; delete+insert
    on the key makes re-reading harmless. -#}
{{ config(
    materialized='incremental',
    unique_key='ci_run_key',
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with

{#- The bookmark as a literal (read when the model runs), so the filter reaches each
    staging table's scan. -#}
{%- set bookmark = staged_bookmark('source_loaded_at') -%}
{%- set changed_since = '> ' ~ bookmark if bookmark is not none else 'is not null' %}

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

github_repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

gitlab_projects as (

    select * from {{ ref('stg_gitlab__projects') }}

),

github_runs as (

    select
        'github_actions:' || cast(runs.run_id as varchar)               as ci_run_key,
        'github_actions'                                                as ci_system,
        runs.repository,
        runs.workflow_name                                              as pipeline_name,
        cast(runs.run_number as bigint)                                 as run_number,
        runs.head_branch                                                as branch,
        runs.event                                                      as trigger_event,
        runs.created_at,
        runs.run_started_at                                             as started_at,
        case when runs.status = 'completed' then runs.updated_at end    as finished_at,
        case
            when runs.status <> 'completed' or runs.conclusion is null then 'running'
            when runs.conclusion = 'success' then 'success'
            when runs.conclusion in ('failure', 'timed_out', 'startup_failure') then 'failure'
            when runs.conclusion = 'cancelled' then 'cancelled'
            else 'skipped'
        end                                                             as result,
        github_repositories.default_branch,
        runs._loaded_at                                                 as source_loaded_at

    from {{ ref('stg_github__workflow_runs') }} as runs
    left join github_repositories
        on github_repositories.repository = runs.repository
    {% if is_incremental() %}
    where runs._loaded_at {{ changed_since }}
    {% endif %}

),

jenkins_builds as (

    select
        'jenkins:' || builds.job || '#' || cast(builds.build_number as varchar) as ci_run_key,
        'jenkins'                                                       as ci_system,
        builds.repository,
        builds.job                                                      as pipeline_name,
        builds.build_number                                             as run_number,
        builds.branch,
        cast(null as varchar)                                           as trigger_event,
        builds.started_at                                               as created_at,
        builds.started_at,
        builds.finished_at,
        case
            when builds.is_building or builds.result is null then 'running'
            when builds.result = 'SUCCESS' then 'success'
            when builds.result in ('FAILURE', 'UNSTABLE') then 'failure'
            when builds.result = 'ABORTED' then 'cancelled'
            else 'skipped'
        end                                                             as result,
        coalesce(github_repositories.default_branch, gitlab_projects.default_branch) as default_branch,
        builds._loaded_at                                               as source_loaded_at

    from {{ ref('stg_jenkins__builds') }} as builds
    left join github_repositories
        on github_repositories.repository = builds.repository
    left join gitlab_projects
        on gitlab_projects.repository = builds.repository
    {% if is_incremental() %}
    where builds._loaded_at {{ changed_since }}
    {% endif %}

),

gitlab_pipelines as (

    select
        'gitlab_ci:' || cast(pipelines.pipeline_id as varchar)          as ci_run_key,
        'gitlab_ci'                                                     as ci_system,
        pipelines.repository,
        pipelines.pipeline_name,
        pipelines.pipeline_iid                                          as run_number,
        pipelines.ref                                                   as branch,
        pipelines.trigger_source                                        as trigger_event,
        pipelines.created_at,
        details.started_at,
        details.finished_at,
        case coalesce(details.status, pipelines.status)
            when 'success' then 'success'
            when 'failed' then 'failure'
            when 'canceled' then 'cancelled'
            when 'skipped' then 'skipped'
            else 'running'
        end                                                             as result,
        gitlab_projects.default_branch,
        greatest(pipelines._loaded_at, coalesce(details._loaded_at, pipelines._loaded_at)) as source_loaded_at

    from {{ ref('stg_gitlab__pipelines') }} as pipelines
    left join {{ ref('stg_gitlab__pipeline_details') }} as details
        on details.pipeline_id = pipelines.pipeline_id
    left join gitlab_projects
        on gitlab_projects.repository = pipelines.repository
    {% if is_incremental() %}
    where pipelines._loaded_at {{ changed_since }}
        or details._loaded_at {{ changed_since }}
    {% endif %}

),

{#- On an incremental build, only the runs whose records were staged since the last one. -#}
changed_runs as (

    select * from github_runs
    union all
    select * from jenkins_builds
    union all
    select * from gitlab_pipelines

),

final as (

    select
        changed_runs.ci_run_key,
        changed_runs.ci_system,
        changed_runs.repository,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team,
        changed_runs.pipeline_name,
        changed_runs.run_number,
        changed_runs.branch,
        coalesce(changed_runs.branch = changed_runs.default_branch, false) as is_default_branch,
        changed_runs.trigger_event,
        changed_runs.created_at,
        changed_runs.started_at,
        changed_runs.finished_at,
        case
            when changed_runs.started_at is not null and changed_runs.finished_at is not null
                then {{ seconds_between('changed_runs.started_at', 'changed_runs.finished_at') }}
        end                                                             as duration_seconds,
        changed_runs.result,
        changed_runs.result = 'success'                                 as is_success,
        changed_runs.result in ('success', 'failure')                   as is_verdict,
        {{ week_start('changed_runs.created_at') }}                     as week_start,
        changed_runs.source_loaded_at

    from changed_runs
    left join repository_teams
        on repository_teams.repository = changed_runs.repository

)

select * from final
