with

source as (

    {{ changed_raw_records(source('github', 'github__workflow_runs')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as run_id,
        scope                                                           as repository,
        cast({{ json_text('payload', 'workflow_id') }} as bigint)       as workflow_id,
        {{ json_text('payload', 'name') }}                              as workflow_name,
        {{ json_text('payload', 'path') }}                              as workflow_path,
        cast({{ json_text('payload', 'run_number') }} as integer)       as run_number,
        cast({{ json_text('payload', 'run_attempt') }} as integer)      as run_attempt,
        {{ json_text('payload', 'event') }}                             as event,
        {{ json_text('payload', 'head_branch') }}                       as head_branch,
        {{ json_text('payload', 'head_sha') }}                          as head_sha,
        {{ json_text('payload', 'status') }}                            as status,
        {{ json_text('payload', 'conclusion') }}                        as conclusion,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'run_started_at') }}           as run_started_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}               as updated_at,
        extracted_at,
        run_id                                                          as extraction_run_id,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
