with

source as (

    select * from {{ source('config', 'config__scorecard_rules') }}

),

renamed as (

    select
        team,
        period_grain,
        kpi_id,
        rule,
        description,
        met_operator,
        met_threshold,
        met_points,
        missed_operator,
        missed_threshold,
        missed_points

    from source

)

select * from renamed
