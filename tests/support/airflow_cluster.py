"""A real, multi-process Airflow 3 on this machine: the compose stack's topology without Docker.

The metadata database is a fresh PostgreSQL database (created here, dropped on close), the
Celery broker one empty Redis database number (flushed on close), and every component — the
API server (core and execution API), the scheduler, the DAG processor and N Celery workers —
is a subprocess in its own process group with its own AIRFLOW_HOME, as if each were its own
machine. They share only what a real deployment shares: the configuration (environment),
the database, the broker, the DAG folder and the pipeline's data directory.

`close()` stops every process it started (SIGTERM to each process group and to every
descendant, SIGKILL after a grace period), also when a start or a run failed.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import psycopg2
import redis

from kpi.executables import venv_executable
from tests.support.worker_hostname import WORKER_HOSTNAME_ENV_VAR

PG = {"host": os.environ.get("KPI_PG_HOST", "127.0.0.1"), "port": int(os.environ.get("KPI_PG_PORT", "5432")),
      "user": os.environ.get("KPI_PG_USER", "postgres")}
REDIS = {"host": os.environ.get("KPI_REDIS_HOST", "127.0.0.1"), "port": int(os.environ.get("KPI_REDIS_PORT", "6379"))}
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


executable = venv_executable  # the airflow, celery and kpi commands of this virtualenv


@dataclass
class Component:
    name: str
    command: list[str]
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen | None = None

    def log_tail(self, characters: int = 4000) -> str:
        try:
            return self.log_file.read_text(errors="replace")[-characters:]
        except FileNotFoundError:
            return "(no log)"


@dataclass
class AirflowCluster:
    root: Path
    extra_env: dict[str, str]
    workers: tuple[str, ...] = ("worker1", "worker2")
    worker_concurrency: int = 2
    database: str = field(default_factory=lambda: f"kpi_airflow_test_{secrets.token_hex(4)}")
    redis_db: int | None = None
    api_port: int = field(default_factory=free_port)
    components: list[Component] = field(default_factory=list)
    stopped: list[tuple[int, float]] = field(default_factory=list)  # (pid, start time) of all it stopped
    _database_created: bool = False

    # -- configuration ---------------------------------------------------------------------

    @property
    def sql_alchemy_conn(self) -> str:
        return f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{self.database}"

    @property
    def broker_url(self) -> str:
        return f"redis://{REDIS['host']}:{REDIS['port']}/{self.redis_db}"

    def common_env(self) -> dict[str, str]:
        """What every component of a deployment must agree on (the compose stack's
        x-airflow-common environment, pointed at this machine)."""
        return {
            **os.environ,
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": self.sql_alchemy_conn,
            "AIRFLOW__CELERY__BROKER_URL": self.broker_url,
            "AIRFLOW__CELERY__RESULT_BACKEND": f"db+postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{self.database}",
            "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(self.worker_concurrency),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{self.api_port}/execution/",
            # Tokens the scheduler signs for a task are validated by the API server: one secret.
            "AIRFLOW__API_AUTH__JWT_SECRET": self._secrets["jwt"],
            "AIRFLOW__API__SECRET_KEY": self._secrets["api"],
            "AIRFLOW__CORE__FERNET_KEY": self._secrets["fernet"],
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
            # Only the run the test triggers: no scheduled run of the latest interval.
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__CORE__HOSTNAME_CALLABLE": "tests.support.worker_hostname.worker_hostname",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": os.environ.get("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO"),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT), os.environ.get("PYTHONPATH")])),
            **self.extra_env,
        }

    def env_for(self, name: str, **extra: str) -> dict[str, str]:
        home = self.root / name
        home.mkdir(parents=True, exist_ok=True)
        return {**self.common_env(), "AIRFLOW_HOME": str(home), **extra}

    # -- lifecycle -------------------------------------------------------------------------

    def __post_init__(self) -> None:
        from cryptography.fernet import Fernet

        self._secrets = {"jwt": secrets.token_urlsafe(32), "api": secrets.token_urlsafe(32),
                         "fernet": Fernet.generate_key().decode()}

    def __enter__(self) -> AirflowCluster:
        try:
            self.create_database()
            self.claim_redis_db()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def create_database(self) -> None:
        admin = psycopg2.connect(dbname="postgres", **PG)
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute(f'create database "{self.database}"')
        finally:
            admin.close()
        self._database_created = True

    def drop_database(self) -> None:
        if not self._database_created:
            return
        admin = psycopg2.connect(dbname="postgres", **PG)
        admin.autocommit = True
        try:
            with admin.cursor() as cursor:
                cursor.execute(f'drop database if exists "{self.database}" with (force)')
        finally:
            admin.close()
        self._database_created = False

    def claim_redis_db(self) -> None:
        """The highest-numbered empty Redis database: never one another user's keys live in."""
        if self.redis_db is not None:
            return
        databases = int(redis.Redis(**REDIS).config_get("databases").get("databases", 16))
        for number in range(databases - 1, 0, -1):
            if redis.Redis(db=number, **REDIS).dbsize() == 0:
                self.redis_db = number
                return
        raise RuntimeError("no empty Redis database number to use as the Celery broker")

    def release_redis_db(self) -> None:
        if self.redis_db is not None:
            redis.Redis(db=self.redis_db, **REDIS).flushdb()
            self.redis_db = None

    def run(self, name: str, *args: str, timeout: float = 300) -> str:
        """A one-off Airflow (or project) command, e.g. `airflow db migrate`; raises with its output."""
        log_file = self.root / "logs" / f"{name}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        with log_file.open("w") as log:
            completed = subprocess.run(list(args), env=self.env_for("cli"), stdout=log, stderr=subprocess.STDOUT,
                                       timeout=timeout, start_new_session=True)
        output = log_file.read_text(errors="replace")
        if completed.returncode != 0:
            raise RuntimeError(f"`{' '.join(args)}` failed (exit {completed.returncode}):\n{output[-4000:]}")
        return output

    def start(self, name: str, args: list[str], **extra_env: str) -> Component:
        log_file = self.root / "logs" / f"{name}.log"
        log_file.parent.mkdir(parents=True, exist_ok=True)
        component = Component(name, args, self.env_for(name, **extra_env), log_file)
        with log_file.open("w") as log:
            component.process = subprocess.Popen(args, env=component.env, stdout=log, stderr=subprocess.STDOUT,
                                                 stdin=subprocess.DEVNULL, start_new_session=True)
        self.components.append(component)
        return component

    def start_all(self) -> None:
        """The native equivalent of `docker compose up`: every long-running component."""
        airflow = executable("airflow")
        self.start("api-server", [airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.api_port),
                                  "--workers", "1"])
        self.start("scheduler", [airflow, "scheduler"])
        self.start("dag-processor", [airflow, "dag-processor"])
        for worker in self.workers:
            # Both serve the default queue with the same concurrency: the broker spreads the
            # queued tasks over them. Log serving is off (both would want port 8793; the
            # logs are on this machine anyway).
            self.start(worker, [airflow, "celery", "worker", "--celery-hostname", f"{worker}@%h",
                                "--concurrency", str(self.worker_concurrency), "--queues", "default",
                                "--skip-serve-logs"],
                       **{WORKER_HOSTNAME_ENV_VAR: worker})

    def check_alive(self) -> None:
        for component in self.components:
            if component.process is not None and component.process.poll() is not None:
                raise RuntimeError(f"{component.name} exited with {component.process.returncode}:\n"
                                   f"{component.log_tail()}")

    def wait_until(self, predicate, what: str, timeout: float, interval: float = 1.0) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            value = predicate()
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}\n{self.diagnostics()}")
            time.sleep(interval)

    def celery_workers(self) -> list[str]:
        """Node names of the Celery workers answering a broadcast ping on this broker."""
        from celery import Celery

        app = Celery(broker=self.broker_url)
        try:
            replies = app.control.ping(timeout=1.0) or []
        finally:
            app.close()
        return sorted(name for reply in replies for name in reply)

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with closing(psycopg2.connect(dbname=self.database, **PG)) as connection:
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

    def diagnostics(self) -> str:
        return "\n".join(f"--- {c.name} (exit {c.process.poll() if c.process else '-'}) ---\n{c.log_tail(2000)}"
                         for c in self.components)

    def stop_all(self, grace: float = 30.0) -> None:
        """SIGTERM to every component's process group and every descendant (task processes put
        themselves in their own groups), then SIGKILL whatever is left after `grace` seconds."""
        targets: list[psutil.Process] = []
        for component in self.components:
            if component.process is None:
                continue
            try:
                parent = psutil.Process(component.process.pid)
                targets += [parent, *parent.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
            try:
                os.killpg(component.process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in targets:
            try:
                self.stopped.append((process.pid, process.create_time()))
                process.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(targets, timeout=grace)
        for process in alive:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        for component in self.components:
            if component.process is not None:
                try:
                    os.killpg(component.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                component.process.wait(timeout=10)
        psutil.wait_procs(alive, timeout=10)

    def close(self) -> None:
        try:
            self.stop_all()
        finally:
            try:
                self.drop_database()
            finally:
                self.release_redis_db()
