{#- One row per code-scanning alert. Severity is the rule's severity (none, note, warning,
    error); the CVSS-like security severity level is kept apart. -#}
{%- set payload = json_document('payload') -%}
with

source as (

    {{ changed_raw_records(source('github', 'github__code_scanning_alerts')) }}

),

renamed as (

    select
        record_key                                                      as alert_key,
        scope                                                           as repository,
        cast({{ json_field(payload, 'number') }} as integer)            as alert_number,
        {{ json_field(payload, 'state') }}                              as state,
        {{ json_field(payload, 'rule.id') }}                            as rule_id,
        {{ json_field(payload, 'rule.severity') }}                      as severity,
        {{ json_field(payload, 'rule.security_severity_level') }}       as security_severity_level,
        {{ json_field(payload, 'tool.name') }}                          as tool_name,
        {{ json_field(payload, 'most_recent_instance.ref') }}           as ref,
        {{ json_field(payload, 'most_recent_instance.location.path') }} as path,
        {{ json_timestamp_field(payload, 'created_at') }}               as created_at,
        {{ json_timestamp_field(payload, 'updated_at') }}               as updated_at,
        {{ json_timestamp_field(payload, 'fixed_at') }}                 as fixed_at,
        {{ json_timestamp_field(payload, 'dismissed_at') }}             as dismissed_at,
        {{ json_field(payload, 'dismissed_reason') }}                   as dismissed_reason,
        extracted_at,
        run_id                                                          as extraction_run_id,
        _record_key,
        _loaded_at

    from {{ json_parsed_from(payload, 'source') }}

)

select * from renamed
