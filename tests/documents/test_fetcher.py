import base64

import pytest

from screening.documents import AssetError, AssetRegistry, FetchRefused, StrictURLFetcher
from screening.documents.assets import valid_asset_name

PNG_1PX = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def registry(tmp_path):
    registry = AssetRegistry()
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>')
    registry.add_file("logo.svg", logo)
    registry.add_bytes("fonts/x.ttf", b"\0\1\0\0")
    return registry


def test_serves_registered_assets(registry):
    fetcher = StrictURLFetcher(registry)
    response = fetcher.fetch("asset:logo.svg")
    assert response.content_type == "image/svg+xml"
    assert response.read().startswith(b"<svg")
    assert fetcher("asset:fonts/x.ttf").read() == b"\0\1\0\0"
    assert fetcher.log == ["asset:logo.svg", "asset:fonts/x.ttf"]
    assert fetcher.refused == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "file://localhost/etc/passwd",
        "http://169.254.169.254/latest/meta-data/",
        "http://127.0.0.1:6379",
        "https://example.org/logo.png",
        "ftp://example.org/x",
        "gopher://127.0.0.1:6379/_INFO",
        "jar:file:///x!/y",
        "asset:unknown.png",
        "asset:../../../../etc/passwd",
        "asset:%2e%2e/%2e%2e/etc/passwd",
        "asset:/etc/passwd",
        "data:text/html,<script>alert(1)</script>",
        "data:image/png;base64," + base64.b64encode(PNG_1PX).decode(),
        "/etc/passwd",
        "relative.css",
    ],
)
def test_refuses_everything_else(registry, url):
    fetcher = StrictURLFetcher(registry)
    with pytest.raises(FetchRefused):
        fetcher.fetch(url)
    assert fetcher.log == [url]
    assert len(fetcher.refused) == 1


def test_serves_the_images_generated_for_one_render(registry):
    fetcher = StrictURLFetcher(registry, generated={"_qr/abc.png": (PNG_1PX, "image/png")})
    response = fetcher.fetch("asset:_qr/abc.png")
    assert response.read() == PNG_1PX and response.content_type == "image/png"
    assert fetcher.fetch("asset:logo.svg").content_type == "image/svg+xml"
    with pytest.raises(FetchRefused, match="unknown asset"):
        fetcher.fetch("asset:_qr/other.png")
    with pytest.raises(FetchRefused, match="unknown asset"):
        StrictURLFetcher(registry).fetch("asset:_qr/abc.png")  # only the render it was made for


def test_data_urls_only_when_allowed_small_and_images(registry):
    fetcher = StrictURLFetcher(registry, allow_data=True, max_data_bytes=1024)
    url = "data:image/png;base64," + base64.b64encode(PNG_1PX).decode()
    assert fetcher.fetch(url).read() == PNG_1PX
    with pytest.raises(FetchRefused, match="media type"):
        fetcher.fetch("data:text/css,body{}")
    with pytest.raises(FetchRefused, match="too large"):
        fetcher.fetch("data:image/png;base64," + base64.b64encode(b"\0" * 4096).decode())
    with pytest.raises(FetchRefused, match="malformed"):
        fetcher.fetch("data:image/png;base64,@@@")


def test_never_follows_redirects_or_uses_urllib(registry, monkeypatch):
    fetcher = StrictURLFetcher(registry)

    def boom(*args, **kwargs):
        raise AssertionError("urllib opener used")

    monkeypatch.setattr(type(fetcher).__mro__[1], "open", boom)
    with pytest.raises(FetchRefused):
        fetcher.fetch("http://127.0.0.1:1/redirect")


def test_long_urls_are_logged_shortened(registry):
    fetcher = StrictURLFetcher(registry)
    with pytest.raises(FetchRefused):
        fetcher.fetch("http://x/" + "a" * 5000)
    assert len(fetcher.log[0]) < 400


@pytest.mark.parametrize("name", ["../x.css", "/abs.css", "a//b.css", "x.css/", ".hidden.css", "a b.css", ""])
def test_invalid_asset_names(name, tmp_path):
    assert not valid_asset_name(name)
    target = tmp_path / "x.css"
    target.write_text("")
    with pytest.raises(AssetError):
        AssetRegistry().add_file(name, target)


def test_registry_rejects_unknown_types_missing_files_and_late_additions(tmp_path):
    registry = AssetRegistry()
    with pytest.raises(AssetError, match="unsupported"):
        registry.add_bytes("x.exe", b"MZ")
    with pytest.raises(AssetError, match="no such file"):
        registry.add_file("gone.png", tmp_path / "gone.png")
    registry.freeze()
    with pytest.raises(AssetError, match="before the first render"):
        registry.add_bytes("late.png", b"x")
