{#- Use the custom schema name as is (staging, intermediate, marts) instead of dbt's
    default <target>_<custom> so that analysts query marts.kpi_... directly. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}{{ target.schema }}{%- else -%}{{ custom_schema_name | trim }}{%- endif -%}
{%- endmacro %}
