"""`[core] hostname_callable` for the scale-out test's Celery workers.

Both workers run on this one machine, so the default (the machine's FQDN) would record the
same `task_instance.hostname` whichever worker ran a task. Each worker process is started
with its own KPI_TEST_WORKER_HOSTNAME, which the task processes it starts inherit, so the
metadata database says which worker ran each task. Other processes fall back to the FQDN.
"""

from __future__ import annotations

import os
import socket

WORKER_HOSTNAME_ENV_VAR = "KPI_TEST_WORKER_HOSTNAME"


def worker_hostname() -> str:
    return os.environ.get(WORKER_HOSTNAME_ENV_VAR) or socket.getfqdn()
