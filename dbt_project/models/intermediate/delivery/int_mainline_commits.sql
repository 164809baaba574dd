{{ config(materialized='table') }}
{#- The default branch's first-parent chain per repository, with each commit's position
    (0 = the oldest loaded commit). Deployed commits and merge commits of pull requests
    are on this chain, so "deployment D ships commit C" becomes "position(C) <= position(D)"
    -- ancestry from the recorded parent links, never guessed from timestamps.

    The chain is walked back from the tip: the commit no other commit names as a parent
    (side-branch commits of merged pull requests are parents of their merge commit, so
    they are never the tip, and the walk follows first parents only, so it never enters
    them). -#}
with recursive

commits as (

    select * from {{ ref('stg_github__commits') }}

),

named_as_parent as (

    select distinct repository, parent_sha
    from {{ ref('stg_github__commit_parents') }}

),

tips as (

    select
        commits.repository,
        commits.commit_sha,
        row_number() over (
            partition by commits.repository
            order by commits.committed_at desc, commits.commit_sha
        ) as recency_rank

    from commits
    left join named_as_parent
        on named_as_parent.repository = commits.repository
        and named_as_parent.parent_sha = commits.commit_sha
    where named_as_parent.parent_sha is null

),

walk (repository, commit_sha, depth) as (

    select repository, commit_sha, 0
    from tips
    where recency_rank = 1

    union all

    select commits.repository, commits.first_parent_sha, walk.depth + 1
    from walk
    inner join commits
        on commits.repository = walk.repository
        and commits.commit_sha = walk.commit_sha
    where commits.first_parent_sha is not null

),

positioned as (

    select
        walk.repository,
        walk.commit_sha,
        commits.committed_at,
        max(walk.depth) over (partition by walk.repository) - walk.depth as position

    from walk
    inner join commits
        on commits.repository = walk.repository
        and commits.commit_sha = walk.commit_sha

)

select * from positioned
