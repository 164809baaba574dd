{#- Incremental staging: a staging table parses each raw record's JSON once, when the loader
    merged a new version of it, instead of every build re-parsing the whole raw layer.

    Which records are new is decided by load order, not by any clock in the data: every
    batch the loader merges is logged in raw._load_log (run, stream, scope, loaded_at), and
    a raw row carries the run and scope of the batch that last wrote it. A staged row keeps
    its batch's `_loaded_at`; the next build reads the raw rows whose batch was loaded after
    the newest `_loaded_at` already staged. Loads and builds never overlap (DuckDB lets one
    process hold the file for writing), so a batch committed after a build always carries a
    later loaded_at than anything that build staged -- no look-back window is needed, and
    a night minutes after the last one re-reads nothing it already has.

    Staging models over raw use `changed_raw_records`, models over another staging model
    `changed_staged_records`; both return every row on a full refresh. The key is the raw
    record's (`_record_key`). A model that makes several rows of one record (a commit's
    parents, an issue's status changes) also takes `delete_restaged_records` as pre-hook:
    delete+insert alone would keep the old rows of a record whose new version makes none. -#}

{#- The newest `_loaded_at` (or `column`) in this model's table, as a SQL literal (read when
    the model runs, so the filter reaches the raw table's scan), or none on a full build. -#}
{% macro staged_bookmark(column='_loaded_at') -%}
    {%- if is_incremental() and execute -%}
        {%- set newest = run_query("select cast(max(" ~ column ~ ") as varchar) from " ~ this).columns[0][0] -%}
        {%- if newest -%}
            {{ return("cast('" ~ newest ~ "' as timestamp)") }}
        {%- endif -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- The raw rows to (re)stage: all of them on a full build; on an incremental one those
    written by a batch loaded since the last build. A raw table with deletion tracking
    (`_deleted_at`, set by a key listing) leaves deleted records out, and also re-reads the
    records undeleted since (`_undeleted_at`, set by the loader): one listed again after a
    deletion comes back in place, without a new batch, so its batch's load time is old.
    Such a row is staged with its undelete time as `_loaded_at`, so models downstream see it
    as new too (drop_deleted_raw_records removes the deleted ones).

    Why the run filter: a raw row's `run_id` is the run whose batch last wrote it, so the
    rows loaded since the bookmark all carry one of the runs the load log shows since then
    (`runs_loaded_since`, usually tonight's). Written as constants, `run_id in (...)` is
    filtered inside DuckDB's scan, which then reads the JSON payload of those rows only;
    the exact load-time test alone sits after the join with the load log, so every
    payload of the table was read to find tonight's few (1 M Jira issues: seconds). The
    undeleted rows come from a second scan filtered on `_undeleted_at`, for the same reason
    (an `or` across two columns is not filtered in the scan). -#}
{% macro changed_raw_records(source_relation, tracks_deletions=false) -%}
    {%- set load_log = adapter.get_relation(database=source_relation.database, schema=source_relation.schema, identifier='_load_log') -%}
    {%- set bookmark = staged_bookmark() -%}
    {%- if load_log is not none %}
    {%- set loaded_at = "coalesce(loads.loaded_at, raw_records.extracted_at) at time zone 'UTC'" %}
    {%- else %}
    {#- A raw layer written without the loader (hand-made fixtures): extraction time only. #}
    {%- set loaded_at = "raw_records.extracted_at at time zone 'UTC'" %}
    {%- endif %}
    {%- if tracks_deletions %}
    {{- require_undelete_column(source_relation) }}
    {%- set loaded_at = "greatest(" ~ loaded_at ~ ", raw_records._undeleted_at at time zone 'UTC')" %}
    {%- endif %}
    {%- if bookmark is none or load_log is none %}
    {#- A full build, or no load log to name the new runs: the load-time test alone. #}
    {{ raw_records_loaded_after(source_relation, load_log, loaded_at, tracks_deletions, bookmark) }}
    {%- else %}
    {%- set runs = runs_loaded_since(load_log, source_relation.identifier, bookmark) %}
    {%- set new_runs = sql_string_list(runs) if runs else none %}
    {{ raw_records_loaded_after(source_relation, load_log, loaded_at, tracks_deletions, bookmark,
                                "raw_records.run_id in " ~ new_runs if new_runs else "false") }}
    {%- if tracks_deletions %}
    union all
    {{ raw_records_loaded_after(source_relation, load_log, loaded_at, tracks_deletions, bookmark,
                                "raw_records._undeleted_at > (" ~ bookmark ~ " at time zone 'UTC')"
                                ~ (" and raw_records.run_id not in " ~ new_runs if new_runs else "")) }}
    {%- endif %}
    {%- endif %}
{%- endmacro %}

{#- One scan of changed_raw_records: the raw rows (deleted ones left out) loaded after the
    bookmark, with their load time; `scan_filter` narrows the scan first (constants only). -#}
{% macro raw_records_loaded_after(source_relation, load_log, loaded_at, tracks_deletions, bookmark, scan_filter=none) -%}
    select
        raw_records.*,
        raw_records.record_key                                          as _record_key,
        {{ loaded_at }}                                                 as _loaded_at
    from {{ source_relation }} as raw_records
    {%- if load_log is not none %}
    left join (
        select run_id, scope, max(loaded_at) as loaded_at
        from {{ load_log }}
        where stream = '{{ source_relation.identifier }}'
        group by run_id, scope
    ) as loads
        on loads.run_id = raw_records.run_id
        and loads.scope = raw_records.scope
    {%- endif %}
    where {% if tracks_deletions %}raw_records._deleted_at is null{% else %}true{% endif %}
    {%- if scan_filter is not none %}
        and {{ scan_filter }}
    {%- endif %}
    {%- if bookmark is not none %}
        and {{ loaded_at }} > {{ bookmark }}
    {%- endif %}
{%- endmacro %}

{#- The runs the load log shows loading `stream` after the bookmark, read when the model
    runs. A raw row without a logged load (written before the log existed) was staged by
    the full build that the code introducing the log forced, and is never newer than a
    later bookmark. -#}
{% macro runs_loaded_since(load_log, stream, bookmark) -%}
    {%- if not execute -%}
        {{ return([]) }}
    {%- endif -%}
    {%- set runs = run_query("select distinct run_id from " ~ load_log ~ " where stream = " ~ sql_string(stream)
                             ~ " and loaded_at at time zone 'UTC' > " ~ bookmark ~ " order by run_id") -%}
    {{ return(runs.columns[0].values() | list) }}
{%- endmacro %}

{#- A deletion-tracked raw table without `_undeleted_at` was written by a loader older than
    this check: stop with a clear error rather than miss its undeleted records. -#}
{% macro require_undelete_column(source_relation) -%}
    {%- if execute -%}
        {%- set names = adapter.get_columns_in_relation(source_relation) | map(attribute='name') | map('lower') | list -%}
        {%- if names and '_undeleted_at' not in names -%}
            {{ exceptions.raise_compiler_error(source_relation ~ " tracks deletions (_deleted_at) but has no _undeleted_at column: load it once with the current loader, which adds the column") }}
        {%- endif -%}
    {%- endif -%}
{%- endmacro %}

{#- The rows of another staging model to (re)stage: those staged since this model's last build. -#}
{% macro changed_staged_records(relation) -%}
    {%- set bookmark = staged_bookmark() -%}
    select * from {{ relation }}
    {%- if bookmark is not none %}
    where _loaded_at > {{ bookmark }}
    {%- endif %}
{%- endmacro %}

{#- Pre-hook of a staging model that makes several rows of one record: on an incremental
    build, drop every row of the records about to be restaged. `relation` is the model's
    raw source or, with staged=true, the staging model it reads. -#}
{% macro delete_restaged_records(relation, staged=false) -%}
    {%- set bookmark = staged_bookmark() -%}
    {%- if bookmark is not none -%}
    delete from {{ this }}
    where _record_key in (
        {%- if staged %}
        select _record_key from {{ relation }} where _loaded_at > {{ bookmark }}
        {%- else %}
        select changed._record_key from ({{ changed_raw_records(relation) }}) as changed
        {%- endif %}
    )
    {%- else -%}
    select 1  {#- nothing to drop on a full build -#}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of a staging model over a raw table with deletion tracking: drop the rows of
    records a key listing found deleted upstream since they were staged. -#}
{% macro drop_deleted_raw_records(source_relation) -%}
    delete from {{ this }}
    where _record_key in (
        select record_key from {{ source_relation }} where _deleted_at is not null
    )
{%- endmacro %}
