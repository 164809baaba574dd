{#- What a single pipeline adds to its list entry. `duration` is GitLab's running time in
    seconds (queued time excluded); both are null until the pipeline has run. -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__pipeline_details')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as pipeline_id,
        scope                                                           as repository,
        {{ json_field(payload, 'status') }}                             as status,
        {{ json_timestamp_field(payload, 'started_at') }}               as started_at,
        {{ json_timestamp_field(payload, 'finished_at') }}              as finished_at,
        cast({{ json_field(payload, 'duration') }} as double precision)           as duration_seconds,
        cast({{ json_field(payload, 'queued_duration') }} as double precision)    as queued_duration_seconds,
        cast({{ json_field(payload, 'coverage') }} as double precision)           as coverage_percent,
        cast({{ json_field(payload, 'tag') }} as boolean)               as is_tag,
        {{ json_timestamp_field(payload, 'updated_at') }}               as updated_at,
        extracted_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
