{#- Completed GitHub Actions runs on their repository's default branch (head_branch is the
    default branch and the run was not triggered by a pull request): the runs whose
    reports speak for the default branch. A run starts at run_started_at (created_at when
    GitHub did not send it). -#}
with

runs as (

    select * from {{ ref('stg_github__workflow_runs') }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

default_branch_runs as (

    select
        'github_actions'                                    as source,
        runs.repository,
        runs.run_id,
        coalesce(runs.run_started_at, runs.created_at)      as run_started_at,
        runs.conclusion,
        runs.conclusion = 'success'                         as is_successful

    from runs
    inner join repositories
        on repositories.repository = runs.repository
    where runs.status = 'completed'
        and runs.head_branch = repositories.default_branch
        and coalesce(runs.event, '') <> 'pull_request'

)

select * from default_branch_runs
