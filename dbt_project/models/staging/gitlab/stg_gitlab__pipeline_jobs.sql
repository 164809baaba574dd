with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__pipeline_jobs')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as job_id,
        scope                                                           as repository,
        cast({{ json_text('payload', 'pipeline_id') }} as bigint)       as pipeline_id,
        {{ json_text('payload', 'name') }}                              as job_name,
        {{ json_text('payload', 'stage') }}                             as stage,
        {{ json_text('payload', 'status') }}                            as status,
        {{ json_text('payload', 'ref') }}                               as ref,
        cast({{ json_text('payload', 'allow_failure') }} as boolean)    as is_failure_allowed,
        {{ json_text('payload', 'failure_reason') }}                    as failure_reason,
        cast({{ json_text('payload', 'coverage') }} as double precision)          as coverage_percent,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'started_at') }}               as started_at,
        {{ json_timestamp_utc('payload', 'finished_at') }}              as finished_at,
        cast({{ json_text('payload', 'duration') }} as double precision)          as duration_seconds,
        cast({{ json_text('payload', 'queued_duration') }} as double precision)   as queued_duration_seconds,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
