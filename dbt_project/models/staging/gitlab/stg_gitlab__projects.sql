with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__projects')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as project_id,
        {{ json_text('payload', 'path_with_namespace') }}               as repository,
        {{ json_text('payload', 'namespace.full_path') }}               as group_path,
        {{ json_text('payload', 'default_branch') }}                    as default_branch,
        cast({{ json_text('payload', 'archived') }} as boolean)         as is_archived,
        {{ json_text('payload', 'visibility') }}                        as visibility,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
