{#- One row per (commit, parent): merge commits have two. -#}
with

source as (

    select * from {{ source('github', 'github__commits') }}

),

parents as (

    select
        scope                                                             as repository,
        {{ json_text('payload', 'sha') }}                                 as commit_sha,
        {{ json_array_field_rows('payload', 'parents', 'sha') }}          as parent_sha

    from source

)

select * from parents
