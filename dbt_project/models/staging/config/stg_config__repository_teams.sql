with

source as (

    select * from {{ source('config', 'config__repository_teams') }}

),

renamed as (

    select
        repository,
        team

    from source

)

select * from renamed
