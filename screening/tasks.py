"""Registers every outbox handler and Celery task; imported by ``create_app``.

A worker started with ``celery -A screening.celery_app worker`` builds the app, so it knows the
same tasks as the web process.
"""

from screening import outbox  # noqa: F401 - the outbox runner and sweeper tasks
