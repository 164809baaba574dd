{#- Releases of every repository (drafts included, as GitHub lists them to the token). -#}
with

source as (

    {{ changed_raw_records(source('github', 'github__releases')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as release_id,
        scope                                                           as repository,
        {{ json_text('payload', 'tag_name') }}                          as tag_name,
        {{ json_text('payload', 'name') }}                              as release_name,
        {{ json_text('payload', 'target_commitish') }}                  as target_commitish,
        coalesce(cast({{ json_text('payload', 'draft') }} as boolean), false)      as is_draft,
        coalesce(cast({{ json_text('payload', 'prerelease') }} as boolean), false) as is_prerelease,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'published_at') }}             as published_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
