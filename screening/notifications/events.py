"""Mail events are data: the context keys each needs, allowed values, the default link and an
example context that the tests render in every language. Features register theirs next to the
code that sends them (``register_event``)."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from screening.core.template_context import validate_context

LANGUAGES = ("en", "de")
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "mail"
# Keys the renderer sets itself; a caller's context may not use them.
RESERVED_KEYS = frozenset({"language", "action_url", "base_url", "recipient_name", "subject", "body"})


class NotificationError(ValueError):
    """``notify`` was called with an unknown event, a bad recipient or an unusable context."""


# ------------------------------------------------------------------------------------- events

@dataclass(frozen=True, slots=True)
class MailEvent:
    """One kind of notification. Templates: ``mail/<name>.<language>.txt`` for every language."""

    name: str
    audience: str  # who receives it (documentation and previews)
    required: tuple[str, ...]  # context keys the templates need
    optional: tuple[str, ...] = ()  # keys the templates use when present
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # allowed values per key
    link: str | None = None  # default local path, formatted with the context, e.g. "/proposals/{proposal_id}"
    example: Mapping[str, Any] = field(default_factory=dict)  # renders in every language (tests)


EVENTS: dict[str, MailEvent] = {}


def register_event(event: MailEvent) -> MailEvent:
    """Add an event (other modules may add theirs); its templates must exist in every language."""
    if event.name in EVENTS:
        raise ValueError(f"mail event {event.name!r} registered twice")
    if not re.fullmatch(r"[a-z][a-z0-9_]*", event.name):
        raise ValueError(f"mail event name {event.name!r} must be lower_snake_case")
    clash = RESERVED_KEYS & set(event.required + event.optional)
    if clash:
        raise ValueError(f"mail event {event.name!r} uses reserved context keys {sorted(clash)}")
    missing = [lang for lang in LANGUAGES if not (TEMPLATE_DIR / f"{event.name}.{lang}.txt").is_file()]
    if missing:
        raise ValueError(f"mail event {event.name!r} has no template for {', '.join(missing)}")
    EVENTS[event.name] = event
    return event


def plain_context(spec: MailEvent, context: Mapping[str, Any]) -> dict[str, Any]:
    """``context`` checked against the event (plain values only) and made JSON-ready."""
    checked = validate_context(context)  # TypeError for ORM objects, Markup, callables, …
    clash = RESERVED_KEYS & checked.keys()
    if clash:
        raise NotificationError(f"{spec.name}: reserved context keys {sorted(clash)}")
    missing = [key for key in spec.required if checked.get(key) in (None, "")]
    if missing:
        raise NotificationError(f"{spec.name}: context lacks {', '.join(missing)}")
    for key, allowed in spec.choices.items():
        if key in checked and checked[key] not in allowed:
            raise NotificationError(f"{spec.name}: {key} must be one of {', '.join(allowed)}")
    return _jsonable(checked)


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return value
