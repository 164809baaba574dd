{#- Releases of every repository (drafts included, as GitHub lists them to the token). -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__releases')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as release_id,
        scope                                                           as repository,
        {{ json_field(payload, 'tag_name') }}                           as tag_name,
        {{ json_field(payload, 'name') }}                               as release_name,
        {{ json_field(payload, 'target_commitish') }}                   as target_commitish,
        coalesce(cast({{ json_field(payload, 'draft') }} as boolean), false)       as is_draft,
        coalesce(cast({{ json_field(payload, 'prerelease') }} as boolean), false) as is_prerelease,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'published_at') }}             as published_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
