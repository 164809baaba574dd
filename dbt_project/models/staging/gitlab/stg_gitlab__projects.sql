{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__projects')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as project_id,
        {{ json_field(payload, 'path_with_namespace') }}                as repository,
        {{ json_field(payload, 'namespace.full_path') }}                as group_path,
        {{ json_field(payload, 'default_branch') }}                     as default_branch,
        cast({{ json_field(payload, 'archived') }} as boolean)          as is_archived,
        {{ json_field(payload, 'visibility') }}                         as visibility,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
