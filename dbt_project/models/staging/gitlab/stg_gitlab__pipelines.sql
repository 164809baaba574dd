{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__pipelines')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as pipeline_id,
        scope                                                           as repository,
        cast({{ json_field(payload, 'iid') }} as bigint)                as pipeline_iid,
        cast({{ json_field(payload, 'project_id') }} as bigint)         as project_id,
        {{ json_field(payload, 'sha') }}                                as commit_sha,
        {{ json_field(payload, 'ref') }}                                as ref,
        {{ json_field(payload, 'status') }}                             as status,
        {{ json_field(payload, 'source') }}                             as trigger_source,
        {{ json_field(payload, 'name') }}                               as pipeline_name,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'updated_at') }}               as updated_at,
        extracted_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
