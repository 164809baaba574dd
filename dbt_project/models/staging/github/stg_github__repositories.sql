with

source as (

    {{ changed_raw_records(source('github', 'github__repositories')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)            as repository_id,
        {{ json_text('payload', 'full_name') }}                     as repository,
        {{ json_text('payload', 'default_branch') }}                as default_branch,
        cast({{ json_text('payload', 'archived') }} as boolean)     as is_archived,
        {{ json_timestamp_utc('payload', 'created_at') }}           as created_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
