{#- Reports archived by Jenkins builds; rejected files (did not parse) keep their reason. -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('jenkins', 'jenkins__build_reports')) }}

),

renamed as (

    select
        {{ json_field(payload, 'job') }}                                    as job,
        cast({{ json_field(payload, 'number') }} as bigint)                 as build_number,
        {{ json_field(payload, 'file_name') }}                              as file_name,
        {{ json_field(payload, 'report_kind') }}                            as report_kind,
        {{ json_field(payload, 'report_kind') }} = 'rejected'               as is_rejected,
        {{ json_field(payload, 'error') }}                                  as error,
        cast({{ json_field(payload, 'lines_covered') }} as bigint)          as lines_covered,
        cast({{ json_field(payload, 'lines_valid') }} as bigint)            as lines_valid,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
