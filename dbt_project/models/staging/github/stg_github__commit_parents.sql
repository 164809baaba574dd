{#- One row per (commit, parent): merge commits have two. -#}
{{ config(pre_hook="{{ delete_restaged_records(source('github', 'github__commits')) }}") }}
with

source as (

    {{ changed_raw_records(source('github', 'github__commits')) }}

),

parents as (

    select
        scope                                                             as repository,
        {{ json_text('payload', 'sha') }}                                 as commit_sha,
        {{ json_array_field_rows('payload', 'parents', 'sha') }}          as parent_sha,
        _record_key,
        _loaded_at

    from source

)

select * from parents
