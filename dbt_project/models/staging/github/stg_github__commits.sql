{#- The default branch's commits (GET /repos/{owner}/{repo}/commits). Record keys carry the
    repository because a fork shares commits with its parent. -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__commits')) }}

),

renamed as (

    select
        scope                                                       as repository,
        {{ json_field(payload, 'sha') }}                            as commit_sha,
        {{ json_field(payload, 'parents[0].sha') }}                 as first_parent_sha,
        {{ json_timestamp_field(payload, 'commit.committer.date') }} as committed_at,
        {{ json_timestamp_field(payload, 'commit.author.date') }}   as authored_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
