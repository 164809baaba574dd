{#- SARIF reports' result counts: one row per report file, rule and level (the record's
    `counts` list). Rejected records have no counts. -#}
{{ config(pre_hook="{{ delete_restaged_records(ref('stg_github__artifact_reports'), staged=true) }}") }}
with

reports as (

    select repository, run_id, file_name, payload, _record_key, _loaded_at
    from ({{ changed_staged_records(ref('stg_github__artifact_reports')) }}) as changed
    where report_kind = 'sarif'

),

elements as (

    select
        repository,
        run_id,
        file_name,
        _record_key,
        _loaded_at,
        {{ json_array_elements('payload', 'counts') }} as element
    from reports

),

renamed as (

    select
        repository,
        run_id,
        file_name,
        {{ json_text('element', 'rule_id') }}                   as rule_id,
        {{ json_text('element', 'level') }}                     as level,
        cast({{ json_text('element', 'count') }} as bigint)     as result_count,
        _record_key,
        _loaded_at

    from elements

)

select * from renamed
