# One image for every Airflow component and the simulator: the official Airflow image
# with the project and its locked dependencies installed. Built by docker-compose.yml.
# The lock pins apache-airflow to the image's own version, so Airflow itself is unchanged.
ARG AIRFLOW_VERSION=3.3.2
FROM apache/airflow:${AIRFLOW_VERSION}-python3.11
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1
USER root
# Group 0 may write, as the image expects (it runs with any UID and GID 0).
RUN mkdir -p /opt/kpi/data && chown -R airflow:0 /opt/kpi && chmod -R g+rwX /opt/kpi
USER airflow
WORKDIR /opt/kpi
COPY --chown=airflow:0 requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir -r requirements.lock
COPY --chown=airflow:0 . .
RUN pip install --no-cache-dir --no-deps -e .
