with

source as (

    {{ changed_raw_records(source('github', 'github__deployments')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)        as deployment_id,
        scope                                                   as repository,
        {{ json_text('payload', 'environment') }}               as environment,
        {{ json_text('payload', 'sha') }}                       as commit_sha,
        {{ json_text('payload', 'ref') }}                       as ref,
        {{ json_text('payload', 'task') }}                      as task,
        {{ json_text('payload', 'creator.login') }}             as creator_login,
        {{ json_timestamp_utc('payload', 'created_at') }}       as created_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}       as updated_at,
        extracted_at,
        run_id                                                  as extraction_run_id,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
