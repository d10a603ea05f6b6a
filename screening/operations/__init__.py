"""Operations: health checks, Prometheus metrics, structured logs, backup and restore.

``init_app(app)`` (called by ``create_app``) adds the settings' defaults, the logging set-up, the
request hooks (request id, metrics, one log line per request), the ``operations`` blueprint
(``/health/live``, ``/health/ready``, ``/metrics``) and the ``screening backup`` commands.
Guide: docs/operations.md.
"""

from flask import Flask


def init_app(app: Flask) -> None:
    # Imported here: the package itself stays light, so that gunicorn can load
    # ``screening.operations.gunicorn_config`` without building the application's modules.
    from screening.operations.setup import install

    install(app)
