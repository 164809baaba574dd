{{ config(materialized='table') }}
{#- Which default-branch positions each successful production deployment shipped.

    Successful production deployments of a repository, in (created_at, deployment_id)
    order, on the default branch. `reach` is the highest position deployed so far; a
    deployment ships the positions (previous reach, its reach] -- a rollback (an older
    commit) ships nothing, and a redeploy after it ships only what was never shipped.
    The first deployment ships back to the oldest commit dated within
    var first_deployment_lookback_days before it was created: older history predates
    deployment tracking (`tracked_from`). -#}
with

successful as (

    select
        deployments.deployment_id,
        deployments.repository,
        deployments.created_at,
        deployments.finished_at,
        mainline.position

    from {{ ref('int_production_deployments') }} as deployments
    inner join {{ ref('int_mainline_commits') }} as mainline
        on mainline.repository = deployments.repository
        and mainline.commit_sha = deployments.commit_sha
    where deployments.result = 'success'

),

ordered as (

    select
        successful.*,
        row_number() over (
            partition by repository order by created_at, deployment_id
        ) as deployment_number,
        max(position) over (
            partition by repository order by created_at, deployment_id
            rows between unbounded preceding and current row
        ) as reach,
        lead(position) over (
            partition by repository order by created_at, deployment_id
        ) as next_position

    from successful

),

first_deployments as (

    select repository, created_at, position
    from ordered
    where deployment_number = 1

),

tracked as (

    select
        first_deployments.repository,
        coalesce(min(mainline.position), first_deployments.position + 1) as tracked_from

    from first_deployments
    left join {{ ref('int_mainline_commits') }} as mainline
        on mainline.repository = first_deployments.repository
        and mainline.position <= first_deployments.position
        and mainline.committed_at >= first_deployments.created_at
            - interval '{{ var("first_deployment_lookback_days") }} days'
    group by first_deployments.repository, first_deployments.position

),

ranges as (

    select
        ordered.deployment_id,
        ordered.repository,
        ordered.created_at,
        ordered.finished_at,
        ordered.position,
        ordered.deployment_number,
        tracked.tracked_from,
        coalesce(
            lag(ordered.reach) over (
                partition by ordered.repository order by ordered.created_at, ordered.deployment_id
            ),
            tracked.tracked_from - 1
        )                                                           as shipped_after_position,
        ordered.reach                                               as shipped_up_to_position,
        coalesce(ordered.next_position < ordered.position, false)   as is_rolled_back

    from ordered
    inner join tracked
        on tracked.repository = ordered.repository

)

select * from ranges
