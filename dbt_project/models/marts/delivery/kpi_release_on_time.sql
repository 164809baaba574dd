{#- Releases on time: per team and ISO week of the planned date, the share of the releases
    due (released, or unreleased and past due at the as-of date) that were on time (delay
    <= 0; an overdue release is late). A row exists for a team and week with a release due. -#}
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
        cast(count(case when is_on_time then 1 end) as double precision)
            / cast(count(*) as double precision)                                as on_time_share

    from releases
    group by team, planned_week_start

)

select * from final
