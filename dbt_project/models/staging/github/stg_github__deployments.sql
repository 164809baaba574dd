{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__deployments')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)         as deployment_id,
        scope                                                   as repository,
        {{ json_field(payload, 'environment') }}                as environment,
        {{ json_field(payload, 'sha') }}                        as commit_sha,
        {{ json_field(payload, 'ref') }}                        as ref,
        {{ json_field(payload, 'task') }}                       as task,
        {{ json_field(payload, 'creator.login') }}              as creator_login,
        {{ json_timestamp_field(payload, 'created_at') }}       as created_at,
        {{ json_timestamp_field(payload, 'updated_at') }}       as updated_at,
        extracted_at,
        run_id                                                  as extraction_run_id,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
