{#- Commits of a pull request's branch (GitHub lists the first 250, oldest first). -#}
with

source as (

    {{ changed_raw_records(source('github', 'github__pull_request_commits')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'pull_request_id') }} as bigint)   as pull_request_id,
        scope                                                           as repository,
        {{ json_text('payload', 'sha') }}                               as commit_sha,
        {{ json_timestamp_utc('payload', 'commit.committer.date') }}    as committed_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
