{#- Jenkins builds; the branch as the git plugin names it (refs/remotes/origin/main) is
    reduced to the branch name, and the job's repository comes from its git remote
    (config__jenkins_job_repositories, written by the loader). -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('jenkins', 'jenkins__builds')) }}

),

job_repositories as (

    select * from {{ source('config', 'config__jenkins_job_repositories') }}

),

renamed as (

    select
        {{ json_field(payload, 'job') }}                                    as job,
        cast({{ json_field(payload, 'number') }} as bigint)                 as build_number,
        job_repositories.repository,
        {{ json_field(payload, 'result') }}                                 as result,
        cast({{ json_field(payload, 'building') }} as boolean)              as is_building,
        {{ json_timestamp_field(payload, 'started_at') }}                   as started_at,
        {{ json_timestamp_field(payload, 'finished_at') }}                  as finished_at,
        {{ json_field(payload, 'commit_sha') }}                             as commit_sha,
        case
            when {{ json_field(payload, 'branch') }} like 'refs/remotes/origin/%'
                then substr({{ json_field(payload, 'branch') }}, 21)
            when {{ json_field(payload, 'branch') }} like 'refs/heads/%'
                then substr({{ json_field(payload, 'branch') }}, 12)
            when {{ json_field(payload, 'branch') }} like 'origin/%'
                then substr({{ json_field(payload, 'branch') }}, 8)
            else {{ json_field(payload, 'branch') }}
        end                                                                 as branch,
        cast({{ json_field(payload, 'duration_ms') }} as bigint)            as duration_ms,
        source.extracted_at,
        source._record_key,
        source._loaded_at

    from {{ json_parsed_from(payload, 'source') }}
    left join job_repositories
        on job_repositories.job = source.scope

)

select * from renamed
