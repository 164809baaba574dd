{{ config(materialized='view') }}
{#- Jira project to team mapping (teams[].jira_projects in config/pipeline.yaml), written
    by the pipeline on every run. -#}
with

source as (

    select * from {{ source('config', 'config__jira_project_teams') }}

),

renamed as (

    select
        project_key,
        team

    from source

)

select * from renamed
