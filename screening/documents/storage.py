"""Content-addressed storage of rendered documents.

A document is stored under the SHA-256 of its bytes, so storing the same bytes twice keeps one
copy, and reading checks that the bytes still hash to their name (a changed file is reported,
never served). A database-backed store can implement the same small interface.
"""

import contextlib
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")


class DocumentNotFoundError(KeyError):
    """No document with that SHA-256 is stored."""

class DocumentIntegrityError(RuntimeError):
    """The stored bytes no longer match their SHA-256 (the file was changed or damaged)."""


@dataclass(frozen=True, slots=True)
class StoredDocument:
    sha256: str
    size: int
    key: str  # where the store keeps it (for the file store: a path relative to its root)


def check_sha256(value: str) -> str:
    """``value`` if it is 64 lowercase hex digits, else ``ValueError``."""
    if type(value) is not str or not _SHA256_RE.match(value):
        raise ValueError("not a SHA-256 hex digest")
    return value


@runtime_checkable
class DocumentStore(Protocol):
    def put(self, data: bytes) -> StoredDocument: ...

    def get(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...


class FileDocumentStore:
    """Files under ``root/ab/cd/<sha256>.pdf``; written to a temporary file, then renamed."""

    suffix = ".pdf"

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def key_for(self, sha256: str) -> str:
        check_sha256(sha256)
        return f"{sha256[:2]}/{sha256[2:4]}/{sha256}{self.suffix}"

    def path_for(self, sha256: str) -> Path:
        return self.root / self.key_for(sha256)

    def put(self, data: bytes) -> StoredDocument:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("document data must be bytes")
        data = bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        key = self.key_for(sha256)
        path = self.root / key
        stored = StoredDocument(sha256=sha256, size=len(data), key=key)
        if path.is_file() and self._intact(path, sha256):
            return stored  # same bytes already there: nothing to write
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", suffix=self.suffix, dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp_name, 0o644)
            os.replace(tmp_name, path)  # atomic: readers see the old file or the whole new one
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp_name)
            raise
        self._fsync_dir(path.parent)
        return stored

    def get(self, sha256: str) -> bytes:
        path = self.path_for(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise DocumentNotFoundError(sha256) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise DocumentIntegrityError(f"stored document {sha256} does not match its hash")
        return data

    def exists(self, sha256: str) -> bool:
        try:
            return self.path_for(sha256).is_file()
        except ValueError:
            return False

    @staticmethod
    def _intact(path: Path, sha256: str) -> bool:
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        return digest.hexdigest() == sha256

    @staticmethod
    def _fsync_dir(directory: Path) -> None:
        try:
            fd = os.open(directory, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(fd)
        except OSError:
            pass
        finally:
            os.close(fd)
