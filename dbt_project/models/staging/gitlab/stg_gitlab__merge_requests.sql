with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__merge_requests')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as merge_request_id,
        scope                                                           as repository,
        cast({{ json_text('payload', 'iid') }} as bigint)               as merge_request_iid,
        {{ json_text('payload', 'title') }}                             as title,
        {{ json_text('payload', 'state') }}                             as state,
        cast({{ json_text('payload', 'draft') }} as boolean)            as is_draft,
        {{ json_text('payload', 'source_branch') }}                     as source_branch,
        {{ json_text('payload', 'target_branch') }}                     as target_branch,
        {{ json_text('payload', 'sha') }}                               as head_sha,
        {{ json_text('payload', 'merge_commit_sha') }}                  as merge_commit_sha,
        {{ json_text('payload', 'squash_commit_sha') }}                 as squash_commit_sha,
        cast({{ json_text('payload', 'milestone.id') }} as bigint)      as milestone_id,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'merged_at') }}                as merged_at,
        {{ json_timestamp_utc('payload', 'closed_at') }}                as closed_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}               as updated_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
