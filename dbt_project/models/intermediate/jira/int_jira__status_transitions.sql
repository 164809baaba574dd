{#- Status changes of existing issues with the done-category flag of both ends, in order:
      is_resolution  into a done status from a non-done one (Done, Won't Do);
      is_reopening   out of a done status into a non-done one;
      transition_number  1, 2, ... per issue by (changed_at, history_id);
      next_changed_at    when the next status change happened (null for the last).
    Categories come from int_jira__status_categories by status id, else by name; a
    status no current issue is in counts as not done. -#}
with

changes as (

    select * from {{ ref('stg_jira__issue_status_changes') }}

),

categories as (

    select * from {{ ref('int_jira__status_categories') }}

),

categories_by_name as (

    select status, max(status_category) as status_category
    from categories
    group by status

),

flagged as (

    select
        changes.issue_id,
        changes.history_id,
        changes.changed_at,
        changes.from_status,
        changes.to_status,
        coalesce(from_by_id.status_category, from_by_name.status_category) = 'done' as from_done_raw,
        coalesce(to_by_id.status_category, to_by_name.status_category) = 'done'     as to_done_raw

    from changes
    left join categories as from_by_id on from_by_id.status_id = changes.from_status_id
    left join categories_by_name as from_by_name on from_by_name.status = changes.from_status
    left join categories as to_by_id on to_by_id.status_id = changes.to_status_id
    left join categories_by_name as to_by_name on to_by_name.status = changes.to_status

),

final as (

    select
        issue_id,
        history_id,
        changed_at,
        from_status,
        to_status,
        coalesce(from_done_raw, false)                                      as from_done,
        coalesce(to_done_raw, false)                                        as to_done,
        coalesce(to_done_raw, false) and not coalesce(from_done_raw, false) as is_resolution,
        coalesce(from_done_raw, false) and not coalesce(to_done_raw, false) as is_reopening,
        row_number() over (partition by issue_id order by changed_at, history_id)          as transition_number,
        lead(changed_at) over (partition by issue_id order by changed_at, history_id)      as next_changed_at

    from flagged

)

select * from final
