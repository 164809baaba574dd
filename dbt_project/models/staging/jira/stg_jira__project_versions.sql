{#- One row per Jira fix version. `releaseDate` is the *planned* date: release automation
    flips `released` without touching it, and Jira has no field for the day a version
    actually shipped, so the release process records it in the description as
    `released: YYYY-MM-DD` (macro jira_released_on). -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('jira', 'jira__project_versions')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                     as version_id,
        scope                                                               as project_key,
        {{ json_field(payload, 'name') }}                                   as version_name,
        {{ json_field(payload, 'description') }}                            as description,
        cast({{ json_field(payload, 'startDate') }} as date)                as start_date,
        cast({{ json_field(payload, 'releaseDate') }} as date)              as planned_release_date,
        {{ jira_released_on(json_field(payload, 'description')) }}          as released_on,
        coalesce(cast({{ json_field(payload, 'released') }} as boolean), false) as is_released,
        coalesce(cast({{ json_field(payload, 'archived') }} as boolean), false) as is_archived,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
