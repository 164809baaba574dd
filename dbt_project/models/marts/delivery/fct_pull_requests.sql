{#- One row per pull request merged into its repository's default branch, with the
    production deployment that shipped it and its flow times (hours):
    coding (first commit -> opened), pickup (opened -> first submitted review), review
    (first review -> merged), deploy (merged -> shipped) and lead time (first commit ->
    shipped: DORA's lead time for changes).

    Shipped by: the first successful production deployment whose range
    (int_deployment_ranges) contains the merge commit's default-branch position.
    delivery_status says why a pull request has no lead time:
      deployed           shipped, lead time known;
      not_deployed       no deployment has shipped it yet (or its merge commit is not on
                         the default branch);
      predates_tracking  merged before the repository's first deployment's lookback window;
      commits_unknown    shipped, but its commits were not loaded (extraction horizon),
                         so its first commit -- and its lead time -- is unknown. -#}
with

pull_requests as (

    select * from {{ ref('stg_github__pull_requests') }}

),

repositories as (

    select * from {{ ref('stg_github__repositories') }}

),

repository_teams as (

    select * from {{ ref('stg_config__repository_teams') }}

),

mainline as (

    select * from {{ ref('int_mainline_commits') }}

),

ranges as (

    select * from {{ ref('int_deployment_ranges') }}

),

tracking as (

    select distinct repository, tracked_from from ranges

),

first_commits as (

    select pull_request_id, min(committed_at) as first_commit_at
    from {{ ref('stg_github__pull_request_commits') }}
    group by pull_request_id

),

first_reviews as (

    select pull_request_id, min(submitted_at) as first_review_at
    from {{ ref('stg_github__pull_request_reviews') }}
    where submitted_at is not null
    group by pull_request_id

),

merged as (

    select
        pull_requests.pull_request_id,
        pull_requests.repository,
        coalesce(repository_teams.team, '{{ var("unassigned_team", "unassigned") }}') as team,
        pull_requests.pull_request_number,
        pull_requests.created_at,
        pull_requests.merged_at,
        pull_requests.merge_commit_sha,
        mainline.position                       as merge_position,
        tracking.tracked_from

    from pull_requests
    inner join repositories
        on repositories.repository = pull_requests.repository
        and repositories.default_branch = pull_requests.base_ref
    left join repository_teams
        on repository_teams.repository = pull_requests.repository
    left join mainline
        on mainline.repository = pull_requests.repository
        and mainline.commit_sha = pull_requests.merge_commit_sha
    left join tracking
        on tracking.repository = pull_requests.repository
    where pull_requests.merged_at is not null

),

shipped as (

    select
        merged.*,
        ranges.deployment_id,
        ranges.created_at                       as deployment_created_at,
        ranges.finished_at                      as deployed_at

    from merged
    left join ranges
        on ranges.repository = merged.repository
        and merged.merge_position > ranges.shipped_after_position
        and merged.merge_position <= ranges.shipped_up_to_position

),

final as (

    select
        shipped.pull_request_id,
        shipped.repository,
        shipped.team,
        shipped.pull_request_number,
        shipped.created_at,
        first_commits.first_commit_at,
        first_reviews.first_review_at,
        shipped.merged_at,
        shipped.merge_commit_sha,
        shipped.deployment_id,
        shipped.deployment_created_at,
        shipped.deployed_at,
        case
            when shipped.merge_position < shipped.tracked_from then 'predates_tracking'
            when shipped.deployment_id is null then 'not_deployed'
            when first_commits.first_commit_at is null then 'commits_unknown'
            else 'deployed'
        end                                                                     as delivery_status,
        {{ week_start('shipped.merged_at') }}                                   as merged_week_start,
        {{ week_start('shipped.deployment_created_at') }}                       as deployment_week_start,
        {{ hours_between('first_commits.first_commit_at', 'shipped.created_at') }}  as coding_hours,
        {{ hours_between('shipped.created_at', 'first_reviews.first_review_at') }}  as pickup_hours,
        {{ hours_between('first_reviews.first_review_at', 'shipped.merged_at') }}   as review_hours,
        {{ hours_between('shipped.merged_at', 'shipped.deployed_at') }}             as deploy_hours,
        {{ hours_between('first_commits.first_commit_at', 'shipped.deployed_at') }} as lead_time_hours

    from shipped
    left join first_commits
        on first_commits.pull_request_id = shipped.pull_request_id
    left join first_reviews
        on first_reviews.pull_request_id = shipped.pull_request_id

)

select * from final
