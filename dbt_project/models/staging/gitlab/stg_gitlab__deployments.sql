with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__deployments')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as deployment_id,
        scope                                                           as repository,
        cast({{ json_text('payload', 'iid') }} as bigint)               as deployment_iid,
        {{ json_text('payload', 'ref') }}                               as ref,
        {{ json_text('payload', 'sha') }}                               as commit_sha,
        {{ json_text('payload', 'status') }}                            as status,
        {{ json_text('payload', 'environment.name') }}                  as environment,
        {{ json_text('payload', 'environment.tier') }}                  as environment_tier,
        {{ json_text('payload', 'deployable.name') }}                   as job_name,
        cast({{ json_text('payload', 'deployable.pipeline.id') }} as bigint) as pipeline_id,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'finished_at') }}              as finished_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}               as updated_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
