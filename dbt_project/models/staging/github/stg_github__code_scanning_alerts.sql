{#- One row per code-scanning alert. Severity is the rule's severity (none, note, warning,
    error); the CVSS-like security severity level is kept apart. -#}
with

source as (

    {{ changed_raw_records(source('github', 'github__code_scanning_alerts')) }}

),

renamed as (

    select
        record_key                                                      as alert_key,
        scope                                                           as repository,
        cast({{ json_text('payload', 'number') }} as integer)           as alert_number,
        {{ json_text('payload', 'state') }}                             as state,
        {{ json_text('payload', 'rule.id') }}                           as rule_id,
        {{ json_text('payload', 'rule.severity') }}                     as severity,
        {{ json_text('payload', 'rule.security_severity_level') }}      as security_severity_level,
        {{ json_text('payload', 'tool.name') }}                         as tool_name,
        {{ json_text('payload', 'most_recent_instance.ref') }}          as ref,
        {{ json_text('payload', 'most_recent_instance.location.path') }} as path,
        {{ json_timestamp_utc('payload', 'created_at') }}               as created_at,
        {{ json_timestamp_utc('payload', 'updated_at') }}               as updated_at,
        {{ json_timestamp_utc('payload', 'fixed_at') }}                 as fixed_at,
        {{ json_timestamp_utc('payload', 'dismissed_at') }}             as dismissed_at,
        {{ json_text('payload', 'dismissed_reason') }}                  as dismissed_reason,
        extracted_at,
        run_id                                                          as extraction_run_id,
        _record_key,
        _loaded_at

    from source

)

select * from renamed
