{#- What a single pipeline adds to its list entry. `duration` is GitLab's running time in
    seconds (queued time excluded); both are null until the pipeline has run. -#}
with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__pipeline_details')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as pipeline_id,
        scope                                                           as repository,
        {{ json_text('payload', 'status') }}                            as status,
        {{ json_timestamp_utc('payload', 'started_at') }}               as started_at,
        {{ json_timestamp_utc('payload', 'finished_at') }}              as finished_at,
        cast({{ json_text('payload', 'duration') }} as double precision)          as duration_seconds,
        cast({{ json_text('payload', 'queued_duration') }} as double precision)   as queued_duration_seconds,
        cast({{ json_text('payload', 'coverage') }} as double precision)          as coverage_percent,
        cast({{ json_text('payload', 'tag') }} as boolean)              as is_tag,
        {{ json_timestamp_utc('payload', 'updated_at') }}               as updated_at,
        extracted_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
