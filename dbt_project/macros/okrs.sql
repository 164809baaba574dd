{#- A value clamped to 0-1, null staying null: GREATEST and LEAST skip nulls on DuckDB and
    PostgreSQL alike (greatest(0, null) is 0), which would score "no data" as 0. -#}
{% macro clamp_unit(expression) -%}
    (case when {{ expression }} is null then null else least(1.0, greatest(0.0, {{ expression }})) end)
{%- endmacro %}

{#- The status of an OKR score against its expected progress (config/okr_scoring.yaml, in
    the `scoring` relation the model joins): no_data, on_track, at_risk or off_track. -#}
{% macro okr_status(score, expected_progress) -%}
    case
        when {{ score }} is null then 'no_data'
        when {{ score }} >= {{ expected_progress }} - scoring.on_track_within then 'on_track'
        when {{ score }} >= {{ expected_progress }} - scoring.at_risk_within then 'at_risk'
        else 'off_track'
    end
{%- endmacro %}
