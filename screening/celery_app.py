"""Celery worker entry: ``celery -A screening.celery_app worker`` (and ``beat``).

The Celery app is built from the same configuration as the web app (JSON serializer only; eager
in the embedded default).
"""

from screening import create_app

flask_app = create_app()
celery = flask_app.extensions["celery"]
app = celery
