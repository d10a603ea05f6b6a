"""The only files a letter may load: an explicit registry of named assets.

Templates and stylesheets refer to assets as ``asset:NAME`` (``asset:letter.css``,
``asset:logo-nordhafen.svg``, ``asset:fonts/DejaVuSans.ttf``). The registry maps each name to a
file chosen by the application (never by a template or by user data) or to bytes in memory.
Anything not registered cannot be loaded, whatever the URL says.
"""

import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

PACKAGE_ASSETS = Path(__file__).resolve().parent / "assets"
TEMPLATE_DIR = Path(__file__).resolve().parents[2] / "templates" / "letters"
# Debian's fonts-dejavu-core (scripts/install.sh installs it). One family for all letters.
DEFAULT_FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT_FILES = {
    "fonts/DejaVuSans.ttf": "DejaVuSans.ttf",
    "fonts/DejaVuSans-Bold.ttf": "DejaVuSans-Bold.ttf",
}
# The two demo institutions' logos; an institution names its logo by asset name.
DEMO_LOGOS = ("logo-nordhafen.svg", "logo-suedtal.svg")

MAX_ASSET_BYTES = 4 * 1024 * 1024
_SEGMENT = r"[A-Za-z0-9][A-Za-z0-9_-]*(?:\.[A-Za-z0-9]+)*"
_NAME_RE = re.compile(rf"^{_SEGMENT}(?:/{_SEGMENT})*$")
_MEDIA_TYPES = {
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".ttf": "font/ttf",
    ".otf": "font/otf",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
}


class AssetError(ValueError):
    """An asset name is invalid, unknown or its file cannot be used."""

@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    media_type: str
    path: Path | None = None
    data: bytes | None = None


def valid_asset_name(name: str) -> bool:
    return isinstance(name, str) and len(name) <= 200 and bool(_NAME_RE.match(name))


def _media_type(name: str) -> str:
    suffix = os.path.splitext(name)[1].lower()
    try:
        return _MEDIA_TYPES[suffix]
    except KeyError:
        raise AssetError(f"unsupported asset type: {name!r}") from None


class AssetRegistry:
    """Named assets a letter may load. Register everything first; the first render freezes it.

    The renderer keeps its parsed stylesheet, font configuration and image cache on the registry
    (they depend on the assets), so reuse one registry per process rather than building new ones.
    """

    def __init__(self) -> None:
        self._assets: dict[str, Asset] = {}
        self._data: dict[str, bytes] = {}
        self._frozen = False
        self._lock = threading.Lock()
        self.render_state = None  # set by screening.documents.render

    def add_file(self, name: str, path: str | os.PathLike, media_type: str | None = None) -> None:
        path = Path(path).resolve()
        if not path.is_file():
            raise AssetError(f"asset {name!r}: no such file {path}")
        self._add(Asset(name, media_type or _media_type(name), path=path))

    def add_bytes(self, name: str, data: bytes, media_type: str | None = None) -> None:
        if not isinstance(data, bytes):
            raise TypeError("asset data must be bytes")
        self._add(Asset(name, media_type or _media_type(name), data=data))

    def _add(self, asset: Asset) -> None:
        if not valid_asset_name(asset.name):
            raise AssetError(f"invalid asset name: {asset.name!r}")
        with self._lock:
            if self._frozen:
                raise AssetError("the registry is in use by the renderer; register assets before the first render")
            self._assets[asset.name] = asset
            self._data.pop(asset.name, None)

    def freeze(self) -> None:
        with self._lock:
            self._frozen = True

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._assets

    def names(self) -> list[str]:
        return sorted(self._assets)

    def media_type(self, name: str) -> str:
        return self._get(name).media_type

    def read(self, name: str) -> bytes:
        """The asset's bytes (files are read once and kept)."""
        asset = self._get(name)
        if asset.data is not None:
            return asset.data
        cached = self._data.get(name)
        if cached is None:
            size = asset.path.stat().st_size
            if size > MAX_ASSET_BYTES:
                raise AssetError(f"asset {name!r} is larger than {MAX_ASSET_BYTES} bytes")
            cached = asset.path.read_bytes()
            self._data[name] = cached
        return cached

    def _get(self, name: str) -> Asset:
        try:
            return self._assets[name]
        except KeyError:
            raise AssetError(f"unknown asset: {name!r}") from None

    @classmethod
    def default(cls, font_dir: str | os.PathLike | None = None) -> "AssetRegistry":
        """Letter stylesheet, the demo logos and the DejaVu Sans family."""
        registry = cls()
        registry.add_file("letter.css", TEMPLATE_DIR / "letter.css")
        for logo in DEMO_LOGOS:
            registry.add_file(logo, PACKAGE_ASSETS / logo)
        font_dir = Path(font_dir or os.environ.get("SCREENING_LETTER_FONT_DIR") or DEFAULT_FONT_DIR)
        for name, filename in FONT_FILES.items():
            path = font_dir / filename
            if not path.is_file():
                raise AssetError(
                    f"font {path} is missing: install Debian's fonts-dejavu-core (scripts/install.sh) "
                    "or set SCREENING_LETTER_FONT_DIR"
                )
            registry.add_file(name, path)
        return registry


_default: AssetRegistry | None = None
_default_lock = threading.Lock()


def default_registry() -> AssetRegistry:
    """The process-wide default registry (built on first use)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = AssetRegistry.default()
        return _default
