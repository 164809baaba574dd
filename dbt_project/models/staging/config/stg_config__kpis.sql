with

source as (

    select * from {{ source('config', 'config__kpis') }}

),

renamed as (

    select
        kpi_id,
        name                as kpi_name,
        family,
        unit,
        direction,
        mart,
        value_column,
        status,
        definition,
        period_facts,
        period_value,
        zero_filled,
        repository_rows,
        period_rule

    from source

)

select * from renamed
