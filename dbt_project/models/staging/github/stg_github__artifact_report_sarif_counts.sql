{#- SARIF reports' result counts: one row per report file, rule and level (the record's
    `counts` list). Rejected records have no counts. -#}
with

reports as (

    select repository, run_id, file_name, payload
    from {{ ref('stg_github__artifact_reports') }}
    where report_kind = 'sarif'

),

elements as (

    select
        repository,
        run_id,
        file_name,
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
        cast({{ json_text('element', 'count') }} as bigint)     as result_count

    from elements

)

select * from renamed
