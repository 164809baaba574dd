{#- Reviews of a pull request; a pending (unsubmitted) review has no submitted_at. -#}
with

source as (

    {{ changed_raw_records(source('github', 'github__pull_request_reviews')) }}

),

renamed as (

    select
        cast({{ json_text('payload', 'id') }} as bigint)                as review_id,
        cast({{ json_text('payload', 'pull_request_id') }} as bigint)   as pull_request_id,
        scope                                                           as repository,
        {{ json_text('payload', 'state') }}                             as state,
        {{ json_timestamp_utc('payload', 'submitted_at') }}             as submitted_at,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
