with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__pipelines')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as pipeline_id,
        scope                                                           as repository,
        cast({{ json_text('payload', 'iid') }} as bigint)               as pipeline_iid,
        cast({{ json_text('payload', 'project_id') }} as bigint)        as project_id,
        {{ json_text('payload', 'sha') }}                               as commit_sha,
        {{ json_text('payload', 'ref') }}                               as ref,
        {{ json_text('payload', 'status') }}                            as status,
        {{ json_text('payload', 'source') }}                            as trigger_source,
        {{ json_text('payload', 'name') }}                              as pipeline_name,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}               as updated_at,
        extracted_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
