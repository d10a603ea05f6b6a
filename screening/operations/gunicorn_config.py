"""gunicorn settings for Prometheus multiprocess mode: ``gunicorn -c python:screening.operations.gunicorn_config``.

Only server hooks live here; workers, threads and the bind address stay on the command line.
With ``PROMETHEUS_MULTIPROC_DIR`` set (from the shell, before gunicorn starts), every worker
writes its counters there and ``/metrics`` adds up all of them. The master empties the folder
when it starts, so numbers from an earlier run never leak into this one, and tells
prometheus-client when a worker exits so that its live gauges are dropped.
"""

import os as _os
from pathlib import Path as _Path

from prometheus_client import multiprocess as _multiprocess

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def on_starting(server) -> None:
    folder = _os.environ.get(_MULTIPROC_ENV)
    if not folder:
        if server.cfg.workers > 1:
            server.log.warning("%s is not set: each of the %d workers reports only its own metrics",
                               _MULTIPROC_ENV, server.cfg.workers)
        return
    path = _Path(folder)
    path.mkdir(parents=True, exist_ok=True)
    for stale in path.glob("*.db"):
        stale.unlink()


def child_exit(server, worker) -> None:
    if _os.environ.get(_MULTIPROC_ENV):
        _multiprocess.mark_process_dead(worker.pid)
