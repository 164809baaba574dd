{#- Reviews of a pull request; a pending (unsubmitted) review has no submitted_at. -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__pull_request_reviews')) }}

),

renamed as (

    select
        cast({{ json_field(payload, 'id') }} as bigint)                 as review_id,
        cast({{ json_field(payload, 'pull_request_id') }} as bigint)    as pull_request_id,
        scope                                                           as repository,
        {{ json_field(payload, 'state') }}                              as state,
        {{ json_timestamp_field(payload, 'submitted_at') }}             as submitted_at,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
