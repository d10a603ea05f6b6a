"""A new version of a partner list in two steps: upload and preview its changes, then apply.

The uploaded file is imported into a staging folder (``<instance>/list-staging/<token>/``), so
nothing changes until the administrator confirms the preview; only then is the version written
to the lists of the installation (``SCREENING_LISTS_DIR``), audited, and the re-screen started.
"""

import re
import secrets
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from rules.importers import import_list
from rules.lists import (
    SHIPPED_LISTS_DIR,
    ListDiff,
    ListError,
    PartnerList,
    current_version_of,
    diff_lists,
    dump_list,
    load_current_lists,
    load_list_file,
    store_new_version,
)
from screening.accounts.service import Actor
from screening.admin.access import require_admin
from screening.core import audit
from screening.core.errors import NotFound, ValidationFailed
from screening.portfolio.tasks import monitor

FORMATS = ("csv", "misp-galaxy", "csl")
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")


@dataclass(frozen=True)
class Staged:
    token: str
    partner_list: PartnerList
    diff: ListDiff


def current_lists(actor: Actor) -> list[PartnerList]:
    require_admin(actor)
    return load_current_lists()


def _previous(name: str, lists_dir: Path) -> PartnerList | None:
    return current_version_of(name, list(dict.fromkeys([SHIPPED_LISTS_DIR, lists_dir])))


def stage_upload(actor: Actor, data: bytes, fmt: str, name: str | None, version: str | None, *,
                 lists_dir: Path, staging_dir: Path) -> Staged:
    """Import the uploaded file into staging and compare it with the list's current version."""
    require_admin(actor)
    if fmt not in FORMATS:
        raise ValidationFailed({"format": f"one of {', '.join(FORMATS)}"})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("upload.csv" if fmt == "csv" else "upload.json")
        path.write_bytes(data)
        try:
            partner_list = import_list(fmt, path, name=name or None, version=version or None)
        except (ListError, ValueError, UnicodeDecodeError) as exc:
            # The importer names the temporary file; the administrator knows their file as "the file".
            raise ValidationFailed({"file": str(exc).replace(str(path), "the file")[:300]}) from exc
    if (lists_dir / partner_list.name / f"{partner_list.version}.yaml").exists():
        raise ValidationFailed({"version": f"version {partner_list.version} of {partner_list.name} exists already"})
    token = secrets.token_urlsafe(32)
    dump_list(partner_list, staging_dir / token)
    return Staged(token, partner_list, diff_lists(_previous(partner_list.name, lists_dir), partner_list))


def _staged_file(staging_dir: Path, token: str) -> Path:
    if not _TOKEN_RE.match(token or ""):
        raise NotFound("staged list")
    files = sorted((staging_dir / token).glob("*/*.yaml"))
    if len(files) != 1:
        raise NotFound("staged list")
    return files[0]


def staged(actor: Actor, token: str, *, lists_dir: Path, staging_dir: Path) -> Staged:
    """The preview of a staged upload (compared afresh: another version may have arrived meanwhile)."""
    require_admin(actor)
    partner_list = load_list_file(_staged_file(staging_dir, token))
    return Staged(token, partner_list, diff_lists(_previous(partner_list.name, lists_dir), partner_list))


def apply_staged(session: Session, actor: Actor, token: str, *, lists_dir: Path, staging_dir: Path) -> ListDiff:
    """Write the staged version to the installation's lists, audit it and start the re-screen."""
    require_admin(actor)
    partner_list = load_list_file(_staged_file(staging_dir, token))
    try:
        _path, diff = store_new_version(partner_list, lists_dir)
    except ListError as exc:
        raise ValidationFailed({"version": str(exc).rpartition(": ")[2][:300]}) from exc
    audit.record(session, actor.user, "list.version_added", "partner_list", partner_list.name, actor.institution_id,
                 {"version": partner_list.version, "entries": len(partner_list.entries), **diff.counts})
    monitor(session)
    discard(staging_dir, token)
    return diff


def discard(staging_dir: Path, token: str) -> None:
    if _TOKEN_RE.match(token or ""):
        shutil.rmtree(staging_dir / token, ignore_errors=True)
