{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__pipeline_jobs')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as job_id,
        scope                                                           as repository,
        cast({{ json_field(payload, 'pipeline_id') }} as bigint)        as pipeline_id,
        {{ json_field(payload, 'name') }}                               as job_name,
        {{ json_field(payload, 'stage') }}                              as stage,
        {{ json_field(payload, 'status') }}                             as status,
        {{ json_field(payload, 'ref') }}                                as ref,
        cast({{ json_field(payload, 'allow_failure') }} as boolean)     as is_failure_allowed,
        {{ json_field(payload, 'failure_reason') }}                     as failure_reason,
        cast({{ json_field(payload, 'coverage') }} as double precision)           as coverage_percent,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'started_at') }}               as started_at,
        {{ json_timestamp_field(payload, 'finished_at') }}              as finished_at,
        cast({{ json_field(payload, 'duration') }} as double precision)           as duration_seconds,
        cast({{ json_field(payload, 'queued_duration') }} as double precision)    as queued_duration_seconds,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
