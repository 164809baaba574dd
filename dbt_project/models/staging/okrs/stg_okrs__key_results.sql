with

source as (

    select * from {{ source('okrs', 'config__okr_key_results') }}

),

renamed as (

    select
        key_result_id,
        objective_id,
        period,
        title,
        cast(weight as double precision)    as weight,
        kind                                as key_result_kind,
        kpi_id,
        scope                               as kpi_scope,
        repository,
        cast(baseline as double precision)  as baseline,
        cast(target as double precision)    as target,
        direction,
        unit

    from source

)

select * from renamed
