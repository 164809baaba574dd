{#- Weekly snapshots of every key result's progress, so progress can be charted: each
    nightly build writes the as-of week's row of every key result (a later night of the
    same week replaces it), and earlier weeks stay as they were measured then. A snapshot
    cannot be rebuilt from today's data, so a full refresh keeps it (full_refresh=false). -#}
{{ config(
    materialized='incremental',
    unique_key=['key_result_id', 'week_start'],
    incremental_strategy='delete+insert',
    full_refresh=false,
    on_schema_change='fail'
) }}

with

key_results as (

    select * from {{ ref('okr_key_results') }}

),

final as (

    select
        {{ week_start('key_results.as_of') }}  as week_start,
        key_results.period,
        key_results.objective_id,
        key_results.key_result_id,
        key_results.team,
        key_results.current_value,
        key_results.progress,
        key_results.score,
        key_results.expected_progress,
        key_results.status,
        key_results.as_of                      as measured_at

    from key_results

)

select * from final
