{#- One row per report file parsed out of a workflow artifact, with its totals. The
    detail lists stay in `payload` (unnested by stg_github__artifact_report_* models).
    Rejected records (a file that did not parse) are kept for inspection with their error;
    no KPI reads them (is_rejected). -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__artifact_reports')) }}

),

renamed as (

    select
        record_key                                                              as report_key,
        scope                                                                   as repository,
        {{ json_field(payload, 'source') }}                                     as source,
        cast({{ json_field(payload, 'run_id') }} as bigint)                     as run_id,
        cast({{ json_field(payload, 'artifact_id') }} as bigint)                as artifact_id,
        {{ json_field(payload, 'artifact_name') }}                              as artifact_name,
        cast({{ json_field(payload, 'artifact_expired') }} as boolean)          as is_artifact_expired,
        {{ json_field(payload, 'file_name') }}                                  as file_name,
        {{ json_field(payload, 'report_kind') }}                                as report_kind,
        {{ json_field(payload, 'report_kind') }} = 'rejected'                   as is_rejected,
        {{ json_field(payload, 'error') }}                                      as rejection_error,
        {{ json_field(payload, 'format') }}                                     as report_format,
        -- coverage
        cast({{ json_field(payload, 'lines_valid') }} as bigint)                as lines_valid,
        cast({{ json_field(payload, 'lines_covered') }} as bigint)              as lines_covered,
        cast({{ json_field(payload, 'branches_valid') }} as bigint)             as branches_valid,
        cast({{ json_field(payload, 'branches_covered') }} as bigint)           as branches_covered,
        -- sarif
        {{ json_field(payload, 'sarif_version') }}                              as sarif_version,
        cast({{ json_field(payload, 'findings_total') }} as bigint)             as findings_total,
        -- openapi
        {{ json_field(payload, 'spec_version') }}                               as openapi_version,
        cast({{ json_field(payload, 'operations_total') }} as bigint)           as operations_total,
        cast({{ json_field(payload, 'documented_operations') }} as bigint)      as documented_operations,
        payload,
        extracted_at,
        run_id                                                                  as extraction_run_id,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
