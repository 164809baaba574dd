{#- One row per Dependabot alert. Severity is the security advisory's severity (low,
    medium, high, critical). -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__dependabot_alerts')) }}

),

renamed as (

    select
        record_key                                                          as alert_key,
        scope                                                               as repository,
        cast({{ json_field(payload, 'number') }} as integer)                as alert_number,
        {{ json_field(payload, 'state') }}                                  as state,
        {{ json_field(payload, 'security_advisory.severity') }}             as severity,
        {{ json_field(payload, 'security_advisory.ghsa_id') }}              as ghsa_id,
        {{ json_field(payload, 'security_advisory.cve_id') }}               as cve_id,
        {{ json_field(payload, 'dependency.package.ecosystem') }}           as package_ecosystem,
        {{ json_field(payload, 'dependency.package.name') }}                as package_name,
        {{ json_field(payload, 'dependency.manifest_path') }}               as manifest_path,
        {{ json_timestamp_field(payload, 'created_at') }}                   as created_at,
        {{ json_timestamp_field(payload, 'updated_at') }}                   as updated_at,
        {{ json_timestamp_field(payload, 'fixed_at') }}                     as fixed_at,
        {{ json_timestamp_field(payload, 'dismissed_at') }}                 as dismissed_at,
        {{ json_timestamp_field(payload, 'auto_dismissed_at') }}            as auto_dismissed_at,
        {{ json_field(payload, 'dismissed_reason') }}                       as dismissed_reason,
        extracted_at,
        run_id                                                              as extraction_run_id,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
