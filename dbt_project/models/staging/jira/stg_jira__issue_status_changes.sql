{#- One row per status change in the changelog of an issue that still exists upstream
    (deleted issues left out, as in stg_jira__issues). Jira records one status item per
    history; `from`/`to` are status ids, fromString/toString their names at the time. -#}
{{ config(
    pre_hook="{{ delete_restaged_records(source('jira', 'jira__issues')) }}",
    post_hook="{{ drop_deleted_raw_records(source('jira', 'jira__issues')) }}",
) }}
with

source as (

    {{ changed_raw_records(source('jira', 'jira__issues'), tracks_deletions=true) }}

),

histories as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                    as issue_id,
        {{ json_array_elements('payload', 'changelog.histories') }}         as history,
        _record_key,
        _loaded_at

    from source

),

items as (

    select
        issue_id,
        cast({{ json_text('history', 'id') }} as bigint)                    as history_id,
        {{ json_timestamp_utc('history', 'created') }}                      as changed_at,
        {{ json_array_elements('history', 'items') }}                       as item,
        _record_key,
        _loaded_at

    from histories

),

renamed as (

    select
        issue_id,
        history_id,
        changed_at,
        {{ json_text('item', 'from') }}                                     as from_status_id,
        {{ json_text('item', 'fromString') }}                               as from_status,
        {{ json_text('item', 'to') }}                                       as to_status_id,
        {{ json_text('item', 'toString') }}                                 as to_status,
        _record_key,
        _loaded_at

    from items
    where {{ json_text('item', 'field') }} = 'status'

)

select * from renamed
