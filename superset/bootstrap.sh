#!/usr/bin/env bash
# Superset's own metadata (SQLite under SUPERSET_HOME), an admin user, and the published
# warehouse registered as the database `kpi_warehouse`, opened read-only; then the server.
set -euo pipefail
superset db upgrade
superset fab create-admin --username "${SUPERSET_ADMIN_USERNAME}" --password "${SUPERSET_ADMIN_PASSWORD}" \
    --firstname Superset --lastname Admin --email "${SUPERSET_ADMIN_EMAIL:-admin@example.com}" || true
superset init
superset set-database-uri -d kpi_warehouse -u "${KPI_WAREHOUSE_URI}"   # short flags: stable across versions
exec gunicorn --bind 0.0.0.0:8088 --workers 2 --timeout 120 "superset.app:create_app()"
