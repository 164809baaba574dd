{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__merge_requests')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as merge_request_id,
        scope                                                           as repository,
        cast({{ json_field(payload, 'iid') }} as bigint)                as merge_request_iid,
        {{ json_field(payload, 'title') }}                              as title,
        {{ json_field(payload, 'state') }}                              as state,
        cast({{ json_field(payload, 'draft') }} as boolean)             as is_draft,
        {{ json_field(payload, 'source_branch') }}                      as source_branch,
        {{ json_field(payload, 'target_branch') }}                      as target_branch,
        {{ json_field(payload, 'sha') }}                                as head_sha,
        {{ json_field(payload, 'merge_commit_sha') }}                   as merge_commit_sha,
        {{ json_field(payload, 'squash_commit_sha') }}                  as squash_commit_sha,
        cast({{ json_field(payload, 'milestone.id') }} as bigint)       as milestone_id,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'merged_at') }}                as merged_at,
        {{ json_timestamp_field(payload, 'closed_at') }}                as closed_at,
        {{ json_timestamp_field(payload, 'updated_at') }}               as updated_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
