with

source as (

    select * from {{ source('config', 'config__teams') }}

),

renamed as (

    select team from source

)

select * from renamed
