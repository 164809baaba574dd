with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__milestones')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as milestone_id,
        scope                                                           as repository,
        cast({{ json_text('payload', 'iid') }} as bigint)               as milestone_iid,
        {{ json_text('payload', 'title') }}                             as title,
        {{ json_text('payload', 'state') }}                             as state,
        cast({{ json_text('payload', 'start_date') }} as date)          as start_date,
        cast({{ json_text('payload', 'due_date') }} as date)            as due_date,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}               as updated_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
