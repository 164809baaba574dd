{#- Issues (pull requests are dropped at extraction). An incident is an issue labelled
    `incident`. -#}
with

source as (

    {{ changed_raw_records(source('github', 'github__issues')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)            as issue_id,
        scope                                                       as repository,
        cast({{ json_text('payload', 'number') }} as integer)       as issue_number,
        {{ json_text('payload', 'state') }}                         as state,
        {{ json_array_has('payload', 'labels', 'name', 'incident') }} as is_incident,
        {{ json_array_has('payload', 'labels', 'name', 'bug') }}    as is_bug,
        {{ json_timestamp_utc('payload', 'created_at') }}           as created_at,
        {{ json_timestamp_utc('payload', 'closed_at') }}            as closed_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}           as updated_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
