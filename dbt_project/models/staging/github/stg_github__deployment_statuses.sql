{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__deployment_statuses')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)             as deployment_status_id,
        cast({{ json_field(payload, 'deployment_id') }} as bigint) as deployment_id,
        scope                                                       as repository,
        {{ json_field(payload, 'state') }}                          as state,
        {{ json_field(payload, 'environment') }}                    as environment,
        {{ json_field(payload, 'description') }}                    as description,
        {{ json_timestamp_field(payload, 'created_at') }}           as created_at,
        {{ json_timestamp_field(payload, 'updated_at') }}           as updated_at,
        extracted_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
