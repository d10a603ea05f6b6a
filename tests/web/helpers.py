"""Plain helpers shared by the web tests."""

import re
import uuid
from urllib.parse import urlsplit, urlunsplit

from sqlmodel import select

from screening.core.extensions import db
from screening.core.models import AuditEvent

PASSWORD = "correct horse battery staple"


def spare_redis_url(url: str) -> str:
    """Another Redis database on the server of ``url``: its number plus 8 (modulo 16).

    For tests that start a Celery worker of their own or need a broker no worker listens on: two
    suites running at once with databases 0-7 of their own then never share a worker or a queue.
    """
    parts = urlsplit(url)
    number = int(parts.path.strip("/") or 0)
    return urlunsplit(parts._replace(path=f"/{(number + 8) % 16}"))


def minimal_proposal(**overrides) -> dict:
    data = {
        "title": "Coastal sediment transport modelling",
        "abstract": "Joint field campaign and numerical modelling.",
        "research_fields": ["1.5"],
        "partners": [{"name": "University of Copenhagen", "country": "DK", "type": "university"}],
        "duration_months": 12,
    }
    data.update(overrides)
    return data


CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no CSRF token in page"
    return m.group(1) or m.group(2)


def form_post_data(**fields) -> dict:
    """A complete valid proposal form post (field names as the HTML form uses them)."""
    data = {
        "action": "submit",
        "form_token": uuid.uuid4().hex,
        "title": "Coastal sediment transport modelling",
        "abstract": "Joint field campaign.",
        "keywords": "sediment, coast",
        "research_fields": ["1.5"],
        "partners-0-name": "University of Copenhagen",
        "partners-0-country": "DK",
        "partners-0-type": "university",
        "duration_months": "12",
    }
    data.update(fields)
    return {k: v for k, v in data.items() if v is not None}


def audit_events(action: str) -> list[AuditEvent]:
    """The audit trail's events of one kind."""
    return list(db.session.exec(select(AuditEvent).where(AuditEvent.action == action)).all())
