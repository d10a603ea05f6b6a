"""Pure helpers that remove or replace personal data inside stored values (no database).

Two ways: :func:`without_texts` removes every string that contains, or is a piece of, a removed
free text (a proposal's title or abstract copied into a screening result, a mail, an audit row);
:func:`replace_identity` replaces a person's e-mail address and name wherever they occur.
Both return new values and keep the shape (keys, list lengths), so pages that show the record
still find what they expect.
"""

import copy
import re
from typing import Any

REMOVED = "[removed]"
# A removed text shorter than this is too common to look for inside other strings ("approved"),
# and a string shorter than _MIN_SNIPPET too common to count as a quoted piece of a removed text.
_MIN_PIECE = 8
_MIN_SNIPPET = 20
_MIN_IDENTITY = 4


def pseudonym_email(user_id: int | None) -> str:
    """The address that stands for a user in pseudonymised records (``.invalid`` never delivers)."""
    return f"user-{user_id}@pseudonymised.invalid"


def pseudonym_name(user_id: int | None) -> str:
    return f"Pseudonymised user {user_id}"


def _walk(value: Any, change) -> Any:
    if isinstance(value, dict):
        return {key: _walk(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_walk(item, change) for item in value]
    if isinstance(value, str):
        return change(value)
    return value


def without_texts(value: Any, texts: list[str]) -> Any:
    """``value`` with every string replaced by ``REMOVED`` that contains or is part of one of ``texts``."""
    pieces = [t.casefold() for t in texts if t and len(t.strip()) >= _MIN_PIECE]
    if not pieces:
        return copy.deepcopy(value)

    def change(text: str) -> str:
        folded = text.casefold()
        if any(p in folded for p in pieces) or (len(folded.strip()) >= _MIN_SNIPPET
                                                 and any(folded in p for p in pieces)):
            return REMOVED
        return text

    return _walk(value, change)


def replace_identity(value: Any, identities: list[str], replacement: str) -> Any:
    """``value`` with each of ``identities`` (e-mail address, name) replaced by ``replacement``.

    Whole words only and case-insensitively, so "Ann Lee" does not touch "Joann Leeds".
    """
    wanted = sorted({i for i in identities if i and len(i.strip()) >= _MIN_IDENTITY}, key=len, reverse=True)
    if not wanted:
        return copy.deepcopy(value)
    pattern = re.compile(r"(?<!\w)(?:" + "|".join(re.escape(i) for i in wanted) + r")(?!\w)", re.IGNORECASE)
    return _walk(value, lambda text: pattern.sub(replacement, text))


# Fields of a proposal (contract shape) that hold free text; organisation names, countries,
# codes and dates stay (they are not about a person and keep the portfolio statistics right).
_FREE_TEXT = {
    (): ("abstract", "keywords"),
    ("partners",): ("department",),
    ("data_transfers",): ("description",),
    ("export_control",): ("notes",),
}


def free_texts_of(data: dict) -> list[str]:
    """The free texts of a proposal in contract shape (title included; keywords are single terms)."""
    found = [str(data.get("title") or ""), str(data.get("abstract") or "")]
    for path, keys in _FREE_TEXT.items():
        if not path:
            continue
        items = data.get(path[0]) or []
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, dict):
                found += [str(item[key]) for key in keys if item.get(key)]
    return [text for text in found if text]


def scrub_proposal_data(data: dict, title: str) -> dict:
    """A proposal in contract shape without its free text; ``title`` replaces the title."""
    scrubbed = copy.deepcopy(data)
    scrubbed["title"] = title
    for path, keys in _FREE_TEXT.items():
        targets = [scrubbed] if not path else scrubbed.get(path[0]) or []
        for item in targets if isinstance(targets, list) else [targets]:
            if isinstance(item, dict):
                for key in keys:
                    item.pop(key, None)
    return scrubbed
