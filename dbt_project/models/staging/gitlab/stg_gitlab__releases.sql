{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__releases')) }}

),

renamed as (

    select
        record_key                                                      as release_key,
        scope                                                           as repository,
        {{ json_field(payload, 'tag_name') }}                           as tag_name,
        {{ json_field(payload, 'name') }}                               as release_name,
        {{ json_field(payload, 'commit_sha') }}                         as commit_sha,
        cast({{ json_field(payload, 'upcoming_release') }} as boolean) as is_upcoming,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'released_at') }}              as released_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
