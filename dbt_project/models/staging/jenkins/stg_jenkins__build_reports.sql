{#- Reports archived by Jenkins builds; rejected files (did not parse) keep their reason. -#}
with

source as (

    {{ changed_raw_records(source('jenkins', 'jenkins__build_reports')) }}

),

renamed as (

    select
        {{ json_text('payload', 'job') }}                                   as job,
        cast({{ json_text('payload', 'number') }} as bigint)                as build_number,
        {{ json_text('payload', 'file_name') }}                             as file_name,
        {{ json_text('payload', 'report_kind') }}                           as report_kind,
        {{ json_text('payload', 'report_kind') }} = 'rejected'              as is_rejected,
        {{ json_text('payload', 'error') }}                                 as error,
        cast({{ json_text('payload', 'lines_covered') }} as bigint)         as lines_covered,
        cast({{ json_text('payload', 'lines_valid') }} as bigint)           as lines_valid,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
