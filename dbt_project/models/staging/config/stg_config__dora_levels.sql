with

source as (

    select * from {{ source('config', 'config__dora_levels') }}

),

renamed as (

    select
        kpi_id,
        measure,
        level,
        level_rank,
        operator,
        threshold

    from source

)

select * from renamed
