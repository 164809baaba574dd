{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__milestones')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as milestone_id,
        scope                                                           as repository,
        cast({{ json_field(payload, 'iid') }} as bigint)                as milestone_iid,
        {{ json_field(payload, 'title') }}                              as title,
        {{ json_field(payload, 'state') }}                              as state,
        cast({{ json_field(payload, 'start_date') }} as date)           as start_date,
        cast({{ json_field(payload, 'due_date') }} as date)             as due_date,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'updated_at') }}               as updated_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
