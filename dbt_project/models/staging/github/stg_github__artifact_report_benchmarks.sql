{#- Performance reports' rows: one per report file and benchmark (pytest-benchmark) or
    scenario (k6: `(all scenarios)` plus one per scenario submetric), in milliseconds. -#}
{{ config(pre_hook="{{ delete_restaged_records(ref('stg_github__artifact_reports'), staged=true) }}") }}
with

reports as (

    select repository, run_id, file_name, payload, _record_key, _loaded_at
    from ({{ changed_staged_records(ref('stg_github__artifact_reports')) }}) as changed
    where report_kind = 'performance'

),

elements as (

    select
        repository,
        run_id,
        file_name,
        _record_key,
        _loaded_at,
        {{ json_array_elements('payload', 'rows') }} as element
    from reports

),

renamed as (

    select
        repository,
        run_id,
        file_name,
        {{ json_text('element', 'name') }}                                  as benchmark,
        cast({{ json_text('element', 'p50_ms') }} as double precision)      as p50_ms,
        cast({{ json_text('element', 'p95_ms') }} as double precision)      as p95_ms,
        cast({{ json_text('element', 'samples') }} as bigint)               as samples,
        cast({{ json_text('element', 'from_raw_samples') }} as boolean)     as is_from_raw_samples,
        _record_key,
        _loaded_at

    from elements

)

select * from renamed
