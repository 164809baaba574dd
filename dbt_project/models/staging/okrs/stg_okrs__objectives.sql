with

source as (

    select * from {{ source('okrs', 'config__okr_objectives') }}

),

renamed as (

    select
        objective_id,
        period,
        cast(period_start as date)      as period_start,
        cast(period_end as date)        as period_end,
        title,
        level                           as objective_level,
        owner_team,
        owner_person,
        parent_objective_id,
        objective_type,
        description

    from source

)

select * from renamed
