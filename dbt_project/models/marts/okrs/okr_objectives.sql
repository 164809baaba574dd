{#- Every objective of every OKR period: the weighted score of its key results (those with
    data), whether it meets its success threshold (committed 1.0, aspirational 0.7: see
    config/okr_scoring.yaml), its status against the elapsed share of the period, and the
    rollup of the objectives aligned to it (direct children and all descendants).
    An individual objective is shown as its team's (level individual) without the person's
    name: the warehouse scores teams, never people; the name stays in the reviewed OKR file. -#}
with

objectives as (

    select * from {{ ref('stg_okrs__objectives') }}

),

key_results as (

    select * from {{ ref('okr_key_results') }}

),

alignment as (

    select * from {{ ref('okr_alignment') }}

),

scoring as (

    select * from {{ ref('stg_okrs__scoring') }}

),

key_result_rollup as (

    select
        objective_id,
        count(*)                                                        as key_results,
        count(score)                                                    as key_results_with_data,
        sum(weight * score) / nullif(sum(case when score is not null then weight end), 0)
                                                                        as score,
        max(expected_progress)                                          as expected_progress,
        count(*) filter (where status = 'on_track')                     as key_results_on_track,
        count(*) filter (where status = 'at_risk')                      as key_results_at_risk,
        count(*) filter (where status = 'off_track')                    as key_results_off_track

    from key_results
    group by objective_id

),

own_scores as (

    select
        objectives.*,
        coalesce(key_result_rollup.key_results, 0)                      as key_results,
        coalesce(key_result_rollup.key_results_with_data, 0)            as key_results_with_data,
        key_result_rollup.score,
        key_result_rollup.expected_progress,
        coalesce(key_result_rollup.key_results_on_track, 0)             as key_results_on_track,
        coalesce(key_result_rollup.key_results_at_risk, 0)              as key_results_at_risk,
        coalesce(key_result_rollup.key_results_off_track, 0)            as key_results_off_track

    from objectives
    left join key_result_rollup
        on key_result_rollup.objective_id = objectives.objective_id

),

children as (

    select
        parent.objective_id,
        count(child.objective_id)                                       as aligned_children,
        avg(child.score)                                                as children_mean_score

    from own_scores as parent
    inner join own_scores as child
        on child.parent_objective_id = parent.objective_id
    group by parent.objective_id

),

descendants as (

    select
        ancestor.objective_id,
        count(*)                                                        as aligned_descendants,
        avg(descendant.score)                                           as descendants_mean_score

    from alignment as descendant_path
    inner join own_scores as descendant
        on descendant.objective_id = descendant_path.objective_id
    inner join own_scores as ancestor
        on ancestor.objective_id <> descendant_path.objective_id
        and position(' > ' || ancestor.objective_id || ' > ' in ' > ' || descendant_path.path || ' > ') > 0
    group by ancestor.objective_id

),

final as (

    select
        own_scores.period,
        own_scores.period_start,
        own_scores.period_end,
        own_scores.objective_id,
        own_scores.title,
        own_scores.objective_level,
        own_scores.owner_team,
        own_scores.parent_objective_id,
        own_scores.objective_type,
        own_scores.key_results,
        own_scores.key_results_with_data,
        own_scores.key_results_on_track,
        own_scores.key_results_at_risk,
        own_scores.key_results_off_track,
        own_scores.score,
        case own_scores.objective_type
            when 'committed' then scoring.committed_success
            else scoring.aspirational_success
        end                                                             as success_threshold,
        own_scores.score >= case own_scores.objective_type
            when 'committed' then scoring.committed_success
            else scoring.aspirational_success
        end                                                             as meets_success_threshold,
        own_scores.expected_progress,
        {{ okr_status('own_scores.score', 'own_scores.expected_progress') }} as status,
        coalesce(children.aligned_children, 0)                          as aligned_children,
        children.children_mean_score,
        coalesce(descendants.aligned_descendants, 0)                    as aligned_descendants,
        descendants.descendants_mean_score

    from own_scores
    cross join scoring
    left join children
        on children.objective_id = own_scores.objective_id
    left join descendants
        on descendants.objective_id = own_scores.objective_id

)

select * from final
