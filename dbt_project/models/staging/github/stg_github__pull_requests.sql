with

source as (

    {{ changed_raw_records(source('github', 'github__pull_requests')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)        as pull_request_id,
        scope                                                   as repository,
        cast({{ json_text('payload', 'number') }} as integer)   as pull_request_number,
        {{ json_text('payload', 'state') }}                     as state,
        {{ json_text('payload', 'title') }}                     as title,
        cast({{ json_text('payload', 'draft') }} as boolean)    as is_draft,
        {{ json_text('payload', 'head.ref') }}                  as head_ref,
        {{ json_text('payload', 'head.sha') }}                  as head_sha,
        {{ json_text('payload', 'base.ref') }}                  as base_ref,
        {{ json_text('payload', 'merge_commit_sha') }}          as merge_commit_sha,
        {{ json_timestamp_utc('payload', 'created_at') }}       as created_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}       as updated_at,
        {{ json_timestamp_utc('payload', 'closed_at') }}        as closed_at,
        {{ json_timestamp_utc('payload', 'merged_at') }}        as merged_at,
        {{ json_text('payload', 'merged_at') }} is not null     as is_merged,
        extracted_at,
        run_id                                                  as extraction_run_id,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
