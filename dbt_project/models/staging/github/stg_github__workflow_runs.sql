{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__workflow_runs')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as run_id,
        scope                                                           as repository,
        cast({{ json_field(payload, 'workflow_id') }} as bigint)        as workflow_id,
        {{ json_field(payload, 'name') }}                               as workflow_name,
        {{ json_field(payload, 'path') }}                               as workflow_path,
        cast({{ json_field(payload, 'run_number') }} as integer)        as run_number,
        cast({{ json_field(payload, 'run_attempt') }} as integer)       as run_attempt,
        {{ json_field(payload, 'event') }}                              as event,
        {{ json_field(payload, 'head_branch') }}                        as head_branch,
        {{ json_field(payload, 'head_sha') }}                           as head_sha,
        {{ json_field(payload, 'status') }}                             as status,
        {{ json_field(payload, 'conclusion') }}                         as conclusion,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'run_started_at') }}           as run_started_at,
        {{ json_timestamp_field(payload, 'updated_at') }}               as updated_at,
        extracted_at,
        run_id                                                          as extraction_run_id,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
