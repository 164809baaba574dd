{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__deployments')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as deployment_id,
        scope                                                           as repository,
        cast({{ json_field(payload, 'iid') }} as bigint)                as deployment_iid,
        {{ json_field(payload, 'ref') }}                                as ref,
        {{ json_field(payload, 'sha') }}                                as commit_sha,
        {{ json_field(payload, 'status') }}                             as status,
        {{ json_field(payload, 'environment.name') }}                   as environment,
        {{ json_field(payload, 'environment.tier') }}                   as environment_tier,
        {{ json_field(payload, 'deployable.name') }}                    as job_name,
        cast({{ json_field(payload, 'deployable.pipeline.id') }} as bigint) as pipeline_id,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'finished_at') }}              as finished_at,
        {{ json_timestamp_field(payload, 'updated_at') }}               as updated_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
