{#- Milestones of every repository (open and closed). due_on is the planned date; GitHub
    records no release on a milestone, so closing it stands for its release. -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__milestones')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as milestone_id,
        scope                                                           as repository,
        cast({{ json_field(payload, 'number') }} as integer)            as milestone_number,
        {{ json_field(payload, 'title') }}                              as title,
        {{ json_field(payload, 'state') }}                              as state,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'updated_at') }}               as updated_at,
        {{ json_timestamp_field(payload, 'due_on') }}                   as due_on,
        {{ json_timestamp_field(payload, 'closed_at') }}                as closed_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
