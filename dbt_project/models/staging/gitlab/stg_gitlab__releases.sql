with

source as (

    {{ changed_raw_records(source('gitlab', 'gitlab__releases')) }}

),

renamed as (

    select
        record_key                                                      as release_key,
        scope                                                           as repository,
        {{ json_text('payload', 'tag_name') }}                          as tag_name,
        {{ json_text('payload', 'name') }}                              as release_name,
        {{ json_text('payload', 'commit_sha') }}                        as commit_sha,
        cast({{ json_text('payload', 'upcoming_release') }} as boolean) as is_upcoming,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'released_at') }}              as released_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
