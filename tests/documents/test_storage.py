import hashlib
import os
import threading

import pytest

from screening.documents import (
    DocumentIntegrityError,
    DocumentNotFoundError,
    DocumentStore,
    FileDocumentStore,
)

PDF = b"%PDF-1.7\n" + os.urandom(2048) + b"\n%%EOF\n"


def files_under(root):
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def test_put_get_exists(tmp_path):
    store = FileDocumentStore(tmp_path)
    assert isinstance(store, DocumentStore)
    stored = store.put(PDF)
    digest = hashlib.sha256(PDF).hexdigest()
    assert stored.sha256 == digest
    assert stored.size == len(PDF)
    assert stored.key == f"{digest[:2]}/{digest[2:4]}/{digest}.pdf"
    assert (tmp_path / stored.key).read_bytes() == PDF
    assert store.exists(digest)
    assert store.get(digest) == PDF


def test_put_is_idempotent(tmp_path):
    store = FileDocumentStore(tmp_path)
    first = store.put(PDF)
    mtime = (tmp_path / first.key).stat().st_mtime_ns
    second = store.put(bytes(PDF))
    assert first == second
    assert files_under(tmp_path) == [first.key]
    assert (tmp_path / first.key).stat().st_mtime_ns == mtime  # not rewritten


def test_concurrent_puts_of_the_same_bytes(tmp_path):
    store = FileDocumentStore(tmp_path)
    results = []
    threads = [threading.Thread(target=lambda: results.append(store.put(PDF))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(results)) == 1
    assert files_under(tmp_path) == [results[0].key]


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    store = FileDocumentStore(tmp_path)

    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store.put(PDF)
    assert files_under(tmp_path) == []  # no partial document, no temporary file left
    assert not store.exists(hashlib.sha256(PDF).hexdigest())


def test_write_goes_through_a_temporary_file(tmp_path, monkeypatch):
    store = FileDocumentStore(tmp_path)
    seen = []
    real_replace = os.replace

    def spy(src, dst):
        seen.append((os.path.basename(src), os.path.basename(dst), os.path.exists(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", spy)
    stored = store.put(PDF)
    assert len(seen) == 1
    src, dst, existed = seen[0]
    assert src.startswith(".tmp-") and dst == f"{stored.sha256}.pdf" and not existed


def test_tampered_document_is_reported_and_repaired_by_put(tmp_path):
    store = FileDocumentStore(tmp_path)
    stored = store.put(PDF)
    path = tmp_path / stored.key
    path.write_bytes(PDF.replace(b"%%EOF", b"%%EOX"))
    with pytest.raises(DocumentIntegrityError):
        store.get(stored.sha256)
    store.put(PDF)  # the genuine bytes again: the damaged copy is replaced
    assert store.get(stored.sha256) == PDF


def test_unknown_and_malformed_lookups(tmp_path):
    store = FileDocumentStore(tmp_path)
    with pytest.raises(DocumentNotFoundError):
        store.get("0" * 64)
    assert not store.exists("0" * 64)
    for bad in ("../../etc/passwd", "A" * 64, "0" * 63, "0" * 64 + "/..", "", "g" * 64):
        with pytest.raises(ValueError):
            store.get(bad)
        assert store.exists(bad) is False


def test_put_rejects_non_bytes(tmp_path):
    with pytest.raises(TypeError):
        FileDocumentStore(tmp_path).put("text")
