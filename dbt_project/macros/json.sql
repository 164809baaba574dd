{#- Field access into the raw JSON payload, in one place so the SQL stays portable
    (DuckDB now; PostgreSQL jsonb later). `path` is a dotted path: head.sha -#}
{% macro json_text(column, path) -%}
    {{ return(adapter.dispatch('json_text')(column, path)) }}
{%- endmacro %}

{% macro default__json_text(column, path) -%}
    json_extract_string({{ column }}, '$.{{ path }}')
{%- endmacro %}

{#- PostgreSQL paths are brace lists: parents[0].sha -> {parents,0,sha}. -#}
{% macro postgres__json_text(column, path) -%}
    ({{ column }}::jsonb #>> '{ {{- path | replace('[', ',') | replace(']', '') | replace('.', ',') -}} }')
{%- endmacro %}

{#- An ISO-8601 timestamp with offset, as a UTC timestamp without time zone. -#}
{% macro json_timestamp_utc(column, path) -%}
    {{ utc_timestamp(json_text(column, path)) }}
{%- endmacro %}

{#- ISO-8601 text with offset -> UTC timestamp without time zone (both field readers). -#}
{% macro utc_timestamp(text) -%}
    (cast({{ text }} as timestamptz) at time zone 'UTC')
{%- endmacro %}

{#- A SQL string literal: quotes are doubled, so a value (a configured name, a run id given
    by hand to `airflow dags trigger`) can never close the literal. -#}
{% macro sql_string(value) -%}
    {{- "'" ~ (value | string | replace("'", "''")) ~ "'" -}}
{%- endmacro %}

{#- A SQL list literal from a list of plain strings (values validated by kpi.config). -#}
{% macro sql_string_list(values) -%}
    ({%- for value in values -%}{{ sql_string(value) }}{%- if not loop.last %}, {% endif -%}{%- endfor -%})
{%- endmacro %}

{#- Many fields of one JSON column, parsed once per row. DuckDB parses the whole document
    on every json_extract_string call, so a staging model reading 14 fields of a 3 KB
    GitHub payload parsed it 14 times (measured: 12x slower than one parse into a list).
    A model names its document, reads fields with json_field, and reads its rows from
    json_parsed_from, placed after the last json_field so every path is known:

        {%- set payload = json_document('payload') -%}
        select cast({{ json_field(payload, 'id') }} as bigint) as run_id, ...
        from {{ json_parsed_from(payload, 'source') }}

    PostgreSQL's jsonb is parsed once already; there the fields read the column itself. -#}
{% macro json_document(column) -%}
    {{ return(namespace(column=column, paths=[], closed=false)) }}
{%- endmacro %}

{% macro json_field(document, path) -%}
    {{ return(adapter.dispatch('json_field')(document, path)) }}
{%- endmacro %}

{% macro default__json_field(document, path) -%}
    {%- if document.closed -%}
        {{ exceptions.raise_compiler_error("json_field(" ~ document.column ~ ", '" ~ path ~ "') comes after json_parsed_from(" ~ document.column ~ "): read every field in the select list, before the from clause") }}
    {%- endif -%}
    {%- if path not in document.paths -%}
        {%- do document.paths.append(path) -%}
    {%- endif -%}
    {{ document.column }}__fields[{{ document.paths.index(path) + 1 }}]
{%- endmacro %}

{% macro postgres__json_field(document, path) -%}
    {{ postgres__json_text(document.column, path) }}
{%- endmacro %}

{#- json_timestamp_utc for a field of a parsed document. -#}
{% macro json_timestamp_field(document, path) -%}
    {{ utc_timestamp(json_field(document, path)) }}
{%- endmacro %}

{#- The relation's rows with the document's fields parsed, under the relation's own name. -#}
{% macro json_parsed_from(document, relation) -%}
    {{ return(adapter.dispatch('json_parsed_from')(document, relation)) }}
{%- endmacro %}

{% macro default__json_parsed_from(document, relation) -%}
    {%- set document.closed = true -%}
    {%- if document.paths -%}
    (
        select *, json_extract_string({{ document.column }}, [
            {%- for path in document.paths %}'$.{{ path }}'{% if not loop.last %}, {% endif %}{% endfor -%}
        ]) as {{ document.column }}__fields
        from {{ relation }}
    ) as {{ relation }}
    {%- else -%}
    {{ relation }}
    {%- endif -%}
{%- endmacro %}

{% macro postgres__json_parsed_from(document, relation) -%}
    {%- set document.closed = true -%}
    {{ relation }}
{%- endmacro %}
