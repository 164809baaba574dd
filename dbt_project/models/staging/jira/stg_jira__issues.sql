{#- One row per Jira issue that still exists upstream: issues a key listing found deleted
    (raw `_deleted_at` set) are left out here, so no model downstream can count them.
    The project is the issue's *current* one (a moved issue is re-read under its new key).
    Timestamps are UTC. -#}
{{ config(post_hook="{{ drop_deleted_raw_records(source('jira', 'jira__issues')) }}") }}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('jira', 'jira__issues'), tracks_deletions=true) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                     as issue_id,
        {{ json_field(payload, 'key') }}                                    as issue_key,
        coalesce({{ json_field(payload, 'fields.project.key') }}, scope)    as project_key,
        {{ json_field(payload, 'fields.issuetype.name') }}                  as issue_type,
        {{ json_field(payload, 'fields.status.id') }}                       as status_id,
        {{ json_field(payload, 'fields.status.name') }}                     as status,
        {{ json_field(payload, 'fields.status.statusCategory.key') }}       as status_category,
        {{ json_field(payload, 'fields.resolution.name') }}                 as resolution,
        {{ json_field(payload, 'severity') }}                               as severity,
        {{ json_field(payload, 'environment') }}                            as environment,
        {{ json_timestamp_field(payload, 'fields.created') }}               as created_at,
        {{ json_timestamp_field(payload, 'fields.updated') }}               as updated_at,
        {{ json_timestamp_field(payload, 'fields.resolutiondate') }}        as resolution_date,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
