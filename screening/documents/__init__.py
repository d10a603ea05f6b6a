"""Letters as PDF: rendering (sandboxed Jinja + WeasyPrint with a strict fetcher), storage, signing."""

from screening.core.template_context import MAX_TEXT, ContextError, ContextTooLargeError, validate_context

from .assets import AssetError, AssetRegistry, default_registry
from .fetcher import FetchRefused, StrictURLFetcher
from .render import DocumentFetchError, RenderedPdf, render_html, render_pdf
from .storage import DocumentIntegrityError, DocumentNotFoundError, DocumentStore, FileDocumentStore, StoredDocument

__all__ = [
    "MAX_TEXT",
    "AssetError",
    "AssetRegistry",
    "ContextError",
    "ContextTooLargeError",
    "DocumentFetchError",
    "DocumentIntegrityError",
    "DocumentNotFoundError",
    "DocumentStore",
    "FetchRefused",
    "FileDocumentStore",
    "RenderedPdf",
    "StoredDocument",
    "StrictURLFetcher",
    "default_registry",
    "render_html",
    "render_pdf",
    "validate_context",
]
