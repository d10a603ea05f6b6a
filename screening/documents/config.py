"""This installation's letter settings: the document store in use and each institution's signing key."""

from pathlib import Path

from flask import current_app
from sqlmodel import Session, select

from screening.accounts.models import Institution
from screening.documents.dbstore import DatabaseDocumentStore
from screening.documents.storage import DocumentStore, FileDocumentStore


def document_store(session: Session, kind: str | None = None) -> DocumentStore:
    """The configured store (``DOCUMENT_STORE``: ``file`` or ``database``), or the one named."""
    kind = kind or current_app.config.get("DOCUMENT_STORE") or "file"
    if kind == "database":
        return DatabaseDocumentStore(session)
    if kind != "file":
        raise ValueError(f"unknown DOCUMENT_STORE {kind!r}")
    root = current_app.config.get("DOCUMENT_STORE_DIR") or Path(current_app.instance_path) / "documents"
    return FileDocumentStore(root)


def signing_paths(slug: str) -> tuple[Path, Path] | None:
    """(key, certificate) for the institution: ``SIGNING_KEYS[slug]`` or ``SIGNING_KEY_DIR/slug/``."""
    configured = (current_app.config.get("SIGNING_KEYS") or {}).get(slug)
    if configured:
        return Path(configured["key"]), Path(configured["cert"])
    root = current_app.config.get("SIGNING_KEY_DIR") or Path(current_app.instance_path) / "signing"
    key, cert = Path(root) / slug / "signing-key.pem", Path(root) / slug / "signing-cert.pem"
    if key.is_file() and cert.is_file():
        return key, cert
    return None


def create_demo_signing_keys(session: Session | None, institutions: list[tuple[str, str]] | None = None
                             ) -> list[Path]:
    """Self-signed demo keys under ``SIGNING_KEY_DIR/<slug>/`` for institutions that have none.

    ``institutions`` is a list of (slug, name); by default every institution in the database.
    """
    from screening.documents.signing import create_demo_signing_key

    if institutions is None:
        institutions = [(i.slug, i.name) for i in session.exec(select(Institution).order_by(Institution.id)).all()]
    root = Path(current_app.config.get("SIGNING_KEY_DIR") or Path(current_app.instance_path) / "signing")
    made = []
    for slug, name in institutions:
        if signing_paths(slug) is None:
            create_demo_signing_key(root / slug, f"{name} (demo)")
            made.append(root / slug)
    return made
