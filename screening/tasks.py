"""Registers every outbox handler and Celery task; imported by ``create_app``.

A worker started with ``celery -A screening.celery_app worker`` builds the app, so it knows the
same tasks as the web process.
"""

from screening.core import outbox  # noqa: F401 - the outbox runner and sweeper tasks
from screening.documents import tasks as _letters  # noqa: F401 - documents.render_* handlers
from screening.notifications import tasks as _mail  # noqa: F401 - the mail.send handler
from screening.portfolio import tasks as _portfolio  # noqa: F401 - import, re-screen, dashboard PDF, monitor
from screening.review import tasks as _review  # noqa: F401 - overdue case notices (beat)
