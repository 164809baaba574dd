{#- Commits of a pull request's branch (GitHub lists the first 250, oldest first). -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__pull_request_commits')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'pull_request_id') }} as bigint)    as pull_request_id,
        scope                                                           as repository,
        {{ json_field(payload, 'sha') }}                                as commit_sha,
        {{ json_timestamp_field(payload, 'commit.committer.date') }}    as committed_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
