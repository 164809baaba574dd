with

source as (

    {{ changed_raw_records(source('github', 'github__deployment_statuses')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)            as deployment_status_id,
        cast({{ json_text('payload', 'deployment_id') }} as bigint) as deployment_id,
        scope                                                       as repository,
        {{ json_text('payload', 'state') }}                         as state,
        {{ json_text('payload', 'environment') }}                   as environment,
        {{ json_text('payload', 'description') }}                   as description,
        {{ json_timestamp_utc('payload', 'created_at') }}           as created_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}           as updated_at,
        extracted_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
