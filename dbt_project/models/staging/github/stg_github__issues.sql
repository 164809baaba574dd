{#- Issues (pull requests are dropped at extraction). An incident is an issue labelled
    `incident`. -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__issues')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)             as issue_id,
        scope                                                       as repository,
        cast({{ json_field(payload, 'number') }} as integer)        as issue_number,
        {{ json_field(payload, 'state') }}                          as state,
        {{ json_array_has('payload', 'labels', 'name', 'incident') }} as is_incident,
        {{ json_array_has('payload', 'labels', 'name', 'bug') }}    as is_bug,
        {{ json_timestamp_field(payload, 'created_at') }}           as created_at,
        {{ json_timestamp_field(payload, 'closed_at') }}            as closed_at,
        {{ json_timestamp_field(payload, 'updated_at') }}           as updated_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
