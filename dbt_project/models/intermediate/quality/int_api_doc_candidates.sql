{#- Every default-branch CI run (any conclusion: the document exists whether or not the
    tests passed) that archived an OpenAPI document, with its operations summed over the
    run's OpenAPI files. -#}
with

reports as (

    select * from {{ ref('int_github_run_reports') }}
    where report_kind = 'openapi'
        and operations_total is not null

),

candidates as (

    select
        source,
        repository,
        run_id,
        run_started_at,
        cast(sum(operations_total) as bigint)           as operations,
        cast(sum(documented_operations) as bigint)      as documented_operations,
        count(*)                                        as report_files

    from reports
    group by source, repository, run_id, run_started_at

)

select * from candidates
