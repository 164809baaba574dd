{#- The alignment tree of every OKR period, from its root objectives (company objectives,
    and any objective without a parent) down: one row per objective with its root, depth
    (0 = root) and path of objective ids ("root > child > objective"). Objectives align to
    objectives only; kpi okr validate refuses cycles, so the walk ends. -#}
with recursive

objectives as (

    select * from {{ ref('stg_okrs__objectives') }}

),

walk (objective_id, root_objective_id, depth, path) as (

    select
        objective_id,
        objective_id,
        0,
        cast(objective_id as varchar)
    from objectives
    where parent_objective_id is null

    union all

    select
        child.objective_id,
        walk.root_objective_id,
        walk.depth + 1,
        cast(walk.path || ' > ' || child.objective_id as varchar)
    from walk
    inner join objectives as child
        on child.parent_objective_id = walk.objective_id

),

final as (

    select
        objectives.period,
        walk.objective_id,
        objectives.title,
        objectives.objective_level,
        objectives.owner_team,
        objectives.parent_objective_id,
        walk.root_objective_id,
        walk.depth,
        walk.path

    from walk
    inner join objectives
        on objectives.objective_id = walk.objective_id

)

select * from final
