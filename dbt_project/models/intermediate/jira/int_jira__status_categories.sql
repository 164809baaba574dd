{#- Status id -> status category, as Jira reports it on the issues currently in each status
    (a changelog item names statuses but not their category). When a status's category
    was reconfigured, the most recently updated issue wins. -#}
with

issues as (

    select * from {{ ref('stg_jira__issues') }}
    where status_id is not null and status_category is not null

),

ranked as (

    select
        status_id,
        status,
        status_category,
        row_number() over (partition by status_id order by updated_at desc, issue_id desc) as recency_rank

    from issues

)

select status_id, status, status_category
from ranked
where recency_rank = 1
