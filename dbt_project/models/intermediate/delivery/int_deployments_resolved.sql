{#- Each deployment with its outcome: the state of its latest status other than `inactive` decides it. -#}
with

deployments as (

    select * from {{ ref('stg_github__deployments') }}

),

statuses as (

    select * from {{ ref('stg_github__deployment_statuses') }}

),

latest_status as (

    select
        deployment_id,
        state      as latest_status_state,
        created_at as latest_status_at,
        row_number() over (
            partition by deployment_id
            order by created_at desc, deployment_status_id desc
        ) as recency_rank

    from statuses
    -- GitHub adds `inactive` to a superseded successful deployment (non-production
    -- environments): it does not undo the success, so it never decides the result.
    where state <> 'inactive'

),

resolved as (

    select
        deployments.*,
        latest_status.latest_status_state,
        latest_status.latest_status_at,
        case
            when latest_status.latest_status_state = 'success' then 'success'
            when latest_status.latest_status_state in ('failure', 'error') then 'failed'
            else 'pending'
        end as result

    from deployments
    left join latest_status
        on latest_status.deployment_id = deployments.deployment_id
        and latest_status.recency_rank = 1

)

select * from resolved
