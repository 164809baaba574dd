{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__pull_requests')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)         as pull_request_id,
        scope                                                   as repository,
        cast({{ json_field(payload, 'number') }} as integer)    as pull_request_number,
        {{ json_field(payload, 'state') }}                      as state,
        {{ json_field(payload, 'title') }}                      as title,
        cast({{ json_field(payload, 'draft') }} as boolean)     as is_draft,
        {{ json_field(payload, 'head.ref') }}                   as head_ref,
        {{ json_field(payload, 'head.sha') }}                   as head_sha,
        {{ json_field(payload, 'base.ref') }}                   as base_ref,
        {{ json_field(payload, 'merge_commit_sha') }}           as merge_commit_sha,
        {{ json_timestamp_field(payload, 'created_at') }}       as created_at,
        {{ json_timestamp_field(payload, 'updated_at') }}       as updated_at,
        {{ json_timestamp_field(payload, 'closed_at') }}        as closed_at,
        {{ json_timestamp_field(payload, 'merged_at') }}        as merged_at,
        {{ json_field(payload, 'merged_at') }} is not null      as is_merged,
        extracted_at,
        run_id                                                  as extraction_run_id,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
