with

source as (

    select * from {{ source('okrs', 'config__okr_scoring') }}

),

renamed as (

    select
        cast(on_track_within as double precision)       as on_track_within,
        cast(at_risk_within as double precision)        as at_risk_within,
        cast(committed_success as double precision)     as committed_success,
        cast(aspirational_success as double precision)  as aspirational_success

    from source

)

select * from renamed
