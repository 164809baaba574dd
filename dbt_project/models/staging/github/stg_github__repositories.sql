{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__repositories')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)             as repository_id,
        {{ json_field(payload, 'full_name') }}                      as repository,
        {{ json_field(payload, 'default_branch') }}                 as default_branch,
        cast({{ json_field(payload, 'archived') }} as boolean)      as is_archived,
        {{ json_timestamp_field(payload, 'created_at') }}           as created_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
