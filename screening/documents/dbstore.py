"""A :class:`~screening.documents.storage.DocumentStore` that keeps the bytes in the database.

Selected with ``SCREENING_DOCUMENT_STORE=database``. Rows are written in the caller's session, so
the bytes commit (or roll back) together with the record of the document: a worker killed before
the commit leaves nothing behind.
"""

import hashlib

from sqlmodel import Session

from screening.documents.models import DocumentBlob

from .storage import DocumentIntegrityError, DocumentNotFoundError, StoredDocument, check_sha256


class DatabaseDocumentStore:
    def __init__(self, session: Session) -> None:
        self.session = session

    def put(self, data: bytes) -> StoredDocument:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError("document data must be bytes")
        data = bytes(data)
        sha256 = hashlib.sha256(data).hexdigest()
        if self.session.get(DocumentBlob, sha256) is None:
            self.session.add(DocumentBlob(sha256=sha256, size=len(data), data=data))
            self.session.flush()
        return StoredDocument(sha256=sha256, size=len(data), key=f"db:{sha256}")

    def get(self, sha256: str) -> bytes:
        blob = self.session.get(DocumentBlob, check_sha256(sha256))
        if blob is None:
            raise DocumentNotFoundError(sha256)
        data = bytes(blob.data)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise DocumentIntegrityError(f"stored document {sha256} does not match its hash")
        return data

    def exists(self, sha256: str) -> bool:
        try:
            return self.session.get(DocumentBlob, check_sha256(sha256)) is not None
        except ValueError:
            return False
