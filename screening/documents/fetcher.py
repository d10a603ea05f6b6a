"""A URL fetcher for WeasyPrint that serves registered assets and refuses everything else.

WeasyPrint's default fetcher opens ``file://``, ``http(s)://``, ``ftp://`` and ``data:`` URLs and
follows redirects; a ``<link rel=attachment href=file:///etc/passwd>`` would end up embedded in the
PDF. This fetcher never touches the network or the file system by URL: it answers ``asset:NAME``
from an :class:`~screening.documents.assets.AssetRegistry` (or from the few images the renderer made
for this one letter, such as the QR code) and, only when asked to, tiny ``data:`` images. Every
attempt is recorded in :attr:`StrictURLFetcher.log`; refusals also in
:attr:`StrictURLFetcher.refused`, which the renderer turns into an error.
"""

import base64
import binascii
import threading
from collections.abc import Mapping
from urllib.parse import unquote, unquote_to_bytes

from weasyprint.urls import URLFetcher, URLFetcherResponse

from .assets import AssetRegistry, valid_asset_name

ASSET_SCHEME = "asset:"
DATA_MEDIA_TYPES = frozenset({"image/png", "image/svg+xml"})
MAX_LOGGED_URL = 300


class FetchRefused(ValueError):
    """The fetcher refused a URL (WeasyPrint treats this as a failed resource load)."""

class StrictURLFetcher(URLFetcher):
    """``generated`` maps extra names to ``(bytes, media type)`` for one render. The renderer names
    them ``_…`` (an invalid registry name, so they can never shadow a registered asset)."""

    def __init__(
        self,
        registry: AssetRegistry,
        *,
        allow_data: bool = False,
        max_data_bytes: int = 2048,
        generated: Mapping[str, tuple[bytes, str]] | None = None,
    ) -> None:
        # No redirects, only our scheme; the parent's urllib handlers are never used because
        # fetch() below does not call into them.
        super().__init__(timeout=1, allowed_protocols=("asset",), allow_redirects=False, fail_on_errors=False)
        self.registry = registry
        self.allow_data = allow_data
        self.max_data_bytes = max_data_bytes
        self.generated = dict(generated or {})
        if any(valid_asset_name(name) for name in self.generated):
            raise ValueError("generated images need names no asset can have (starting with '_')")
        self.log: list[str] = []
        self.refused: list[str] = []
        self._log_lock = threading.Lock()

    def fetch(self, url, headers=None):
        shown = url if len(url) <= MAX_LOGGED_URL else url[:MAX_LOGGED_URL] + "…"
        with self._log_lock:
            self.log.append(shown)
        try:
            return self._answer(url)
        except FetchRefused as exc:
            with self._log_lock:
                self.refused.append(f"{shown}: {exc}")
            raise

    def _answer(self, url: str) -> URLFetcherResponse:
        if not isinstance(url, str):
            raise FetchRefused("not a URL")
        lowered = url[:16].lower()
        if lowered.startswith(ASSET_SCHEME):
            name = unquote(url[len(ASSET_SCHEME) :]).split("#", 1)[0]
            if name in self.generated:
                body, media_type = self.generated[name]
                return URLFetcherResponse(url, body=body, headers={"Content-Type": media_type})
            if name not in self.registry:
                raise FetchRefused("unknown asset")
            return URLFetcherResponse(
                url, body=self.registry.read(name), headers={"Content-Type": self.registry.media_type(name)}
            )
        if lowered.startswith("data:"):
            if not self.allow_data:
                raise FetchRefused("data: URLs are not allowed")
            media_type, body = self._decode_data(url)
            return URLFetcherResponse(url, body=body, headers={"Content-Type": media_type})
        raise FetchRefused("scheme not allowed (only asset:)")

    def _decode_data(self, url: str) -> tuple[str, bytes]:
        header, sep, payload = url[5:].partition(",")
        if not sep:
            raise FetchRefused("malformed data: URL")
        # Refuse before decoding anything large.
        if len(payload) > self.max_data_bytes * 4 // 3 + 8:
            raise FetchRefused("data: URL too large")
        parts = [part.strip().lower() for part in header.split(";")]
        media_type = parts[0] or "text/plain"
        if media_type not in DATA_MEDIA_TYPES:
            raise FetchRefused(f"data: media type {media_type!r} not allowed")
        if "base64" in parts[1:]:
            try:
                body = base64.b64decode(payload, validate=True)
            except binascii.Error:
                raise FetchRefused("malformed base64 in data: URL") from None
        else:
            body = unquote_to_bytes(payload)
        if len(body) > self.max_data_bytes:
            raise FetchRefused("data: URL too large")
        return media_type, body
