{#- The default branch's commits (GET /repos/{owner}/{repo}/commits). Record keys carry the
    repository because a fork shares commits with its parent. -#}
with

source as (

    {{ changed_raw_records(source('github', 'github__commits')) }}

),

renamed as (

    select
        scope                                                       as repository,
        {{ json_text('payload', 'sha') }}                           as commit_sha,
        {{ json_text('payload', 'parents[0].sha') }}                as first_parent_sha,
        {{ json_timestamp_utc('payload', 'commit.committer.date') }} as committed_at,
        {{ json_timestamp_utc('payload', 'commit.author.date') }}   as authored_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
