with

source as (

    select * from {{ source('okrs', 'config__okr_check_ins') }}

),

renamed as (

    select
        key_result_id,
        period,
        cast(check_in_date as date)             as check_in_date,
        cast(value as double precision)         as value,
        cast(confidence as double precision)    as confidence,
        note

    from source

)

select * from renamed
