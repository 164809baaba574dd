{#- Release delay against plan: per team and ISO week of the planned date, the releases
    due (planned in the week and either released or overdue at the as-of date; scheduled
    ones are not due yet), how many were on time (delay <= 0), the on-time share and the
    mean delay in days (early releases count negative). total_delay_days lets a longer
    period be rolled up exactly: share = sum(on_time_releases) / sum(releases_due), mean =
    sum(total_delay_days) / sum(releases_due). A row exists for a team and week with at
    least one release due. -#}
with

releases as (

    select * from {{ ref('fct_releases') }}
    where delay_days is not null

),

final as (

    select
        team,
        planned_week_start                                                      as week_start,
        count(*)                                                                as releases_due,
        count(case when is_on_time then 1 end)                                  as on_time_releases,
        count(case when status = 'overdue' then 1 end)                          as overdue_releases,
        cast(count(case when is_on_time then 1 end) as double precision)
            / cast(count(*) as double precision)                                as on_time_share,
        cast(sum(delay_days) as bigint)                                         as total_delay_days,
        cast(sum(delay_days) as double precision) / cast(count(*) as double precision) as mean_delay_days

    from releases
    group by team, planned_week_start

)

select * from final
