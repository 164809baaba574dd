# One image for every Airflow component and the simulator: the project and its locked
# dependencies. Built by docker-compose.yml.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PIP_NO_CACHE_DIR=1 AIRFLOW_HOME=/opt/kpi/data/airflow
WORKDIR /opt/kpi
COPY requirements.lock pyproject.toml README.md ./
RUN pip install "uv==0.13.8" && uv pip install --system -r requirements.lock
COPY . .
RUN uv pip install --system --no-deps -e .
