{#- Milestones of every repository (open and closed). due_on is the planned date; GitHub
    records no release on a milestone, so closing it stands for its release. -#}
with

source as (

    {{ changed_raw_records(source('github', 'github__milestones')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as milestone_id,
        scope                                                           as repository,
        cast({{ json_text('payload', 'number') }} as integer)           as milestone_number,
        {{ json_text('payload', 'title') }}                             as title,
        {{ json_text('payload', 'state') }}                             as state,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}               as updated_at,
        {{ json_timestamp_utc('payload', 'due_on') }}                   as due_on,
        {{ json_timestamp_utc('payload', 'closed_at') }}                as closed_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
