{#- One row per report file parsed out of a workflow artifact, with its totals. The
    detail lists stay in `payload` (unnested by stg_github__artifact_report_* models).
    Rejected records (a file that did not parse) are kept for inspection with their error;
    no KPI reads them (is_rejected). -#}
with

source as (

    {{ changed_raw_records(source('github', 'github__artifact_reports')) }}

),

renamed as (

    select
        record_key                                                              as report_key,
        scope                                                                   as repository,
        {{ json_text('payload', 'source') }}                                    as source,
        cast({{ json_text('payload', 'run_id') }} as bigint)                    as run_id,
        cast({{ json_text('payload', 'artifact_id') }} as bigint)               as artifact_id,
        {{ json_text('payload', 'artifact_name') }}                             as artifact_name,
        cast({{ json_text('payload', 'artifact_expired') }} as boolean)         as is_artifact_expired,
        {{ json_text('payload', 'file_name') }}                                 as file_name,
        {{ json_text('payload', 'report_kind') }}                               as report_kind,
        {{ json_text('payload', 'report_kind') }} = 'rejected'                  as is_rejected,
        {{ json_text('payload', 'error') }}                                     as rejection_error,
        {{ json_text('payload', 'format') }}                                    as report_format,
        -- coverage
        cast({{ json_text('payload', 'lines_valid') }} as bigint)               as lines_valid,
        cast({{ json_text('payload', 'lines_covered') }} as bigint)             as lines_covered,
        cast({{ json_text('payload', 'branches_valid') }} as bigint)            as branches_valid,
        cast({{ json_text('payload', 'branches_covered') }} as bigint)          as branches_covered,
        -- sarif
        {{ json_text('payload', 'sarif_version') }}                             as sarif_version,
        cast({{ json_text('payload', 'findings_total') }} as bigint)            as findings_total,
        -- openapi
        {{ json_text('payload', 'spec_version') }}                              as openapi_version,
        cast({{ json_text('payload', 'operations_total') }} as bigint)          as operations_total,
        cast({{ json_text('payload', 'documented_operations') }} as bigint)     as documented_operations,
        payload,
        extracted_at,
        run_id                                                                  as extraction_run_id,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
