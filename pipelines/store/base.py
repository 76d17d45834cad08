"""The object store interface every stage writes through, whichever backend holds the bytes."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cues.pipelines.store.uri import StoreLocation, check_key, check_prefix
from cues.schemas.errors import StoreError, StoreURIError

MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4's limit for a presigned URL
WRITE_CHECK_KEY = ".cues-write-check"  # written and deleted by check_writable; harmless if two runs share it
CHUNK = 1024 * 1024  # bytes read at a time when hashing or copying a file


@dataclass(frozen=True)
class PutResult:
    """What a write stored: ``size`` in bytes and the sha256 hex digest of exactly those bytes."""

    key: str
    size: int
    sha256: str


@dataclass(frozen=True)
class ObjectInfo:
    """An object's size in bytes and its sha256 (``None`` if it was written by something that did not record it)."""

    key: str
    size: int
    sha256: str | None


class ObjectStore(ABC):
    """Bytes under keys, inside one root (a folder, or an S3 bucket and prefix).

    Keys are relative, ``/``-separated; every method checks them, so no key reaches outside the store.
    Writes are all-or-nothing: a reader sees the old object, the new one, or none — never part of one.
    Stores are picklable, so a store can be handed to Ray tasks.
    """

    def __init__(self, location: StoreLocation):
        self.location = location

    @property
    def uri(self) -> str:
        """Canonical URI of the store (``file:///abs/path`` or ``s3://bucket/prefix``)."""
        return self.location.uri

    def uri_for(self, key: str) -> str:
        """Full URI of one object (``open_store`` of it opens a store rooted at that object)."""
        return self.location.uri_for(key)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.uri!r})"

    # --- writing ---------------------------------------------------------------------------------------------

    @abstractmethod
    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        if_absent: bool = False,
        durable: bool = True,
    ) -> PutResult:
        """Write ``data`` at ``key``, replacing what is there.

        ``content_type`` is the MIME type S3 serves the object with (the local store has nowhere to keep it).
        With ``if_absent``, write only if ``key`` does not exist yet — atomically, even against a concurrent
        writer — else raise :class:`StoreConflict`. ``durable=False`` is for an object its writer can make again
        (an index): still all-or-nothing and kept when the process dies, but it may be lost with the machine (a
        power cut) — the local store skips its two ``fsync`` calls (about 2 ms each on a quiet disk, tens of ms
        beside a render's writes); an S3 write is durable either way.
        """

    @abstractmethod
    def put_file(
        self, key: str, path: str | Path, *, content_type: str | None = None, if_absent: bool = False
    ) -> PutResult:
        """Write the file at ``path`` to ``key``, streaming it (large files go up in parts on S3).

        Same ``content_type`` and ``if_absent`` as :meth:`put_bytes`.
        """

    @abstractmethod
    def replace_if_unchanged(
        self, key: str, data: bytes, version: str, *, content_type: str | None = None
    ) -> PutResult:
        """Write ``data`` at ``key`` only if the object there is still the one :meth:`get_versioned` returned
        ``version`` for, atomically against other writers of this method (compare and swap); else raise
        :class:`StoreConflict`, also when the object was deleted meanwhile. For a file many writers extend
        (read, add, write back), so that no writer's addition is lost."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove ``key``; a missing key is not an error."""

    def check_writable(self) -> None:
        """Write and delete a small object (``WRITE_CHECK_KEY``), so that a missing bucket, refused credentials or a
        folder that cannot be written fail before any work starts, not after it (a local store's folder is created).

        Raises the write's :class:`StoreError` kind, saying which store could not be written."""
        try:
            self.put_bytes(WRITE_CHECK_KEY, b"", content_type="text/plain")
            self.delete(WRITE_CHECK_KEY)
        except StoreError as err:
            raise type(err)(f"cannot write to the store {self.uri}: {err}") from None

    # --- reading ---------------------------------------------------------------------------------------------

    @abstractmethod
    def get_bytes(self, key: str) -> bytes:
        """The object's bytes; :class:`StoreNotFound` if there is none."""

    @abstractmethod
    def get_versioned(self, key: str) -> tuple[bytes, str]:
        """The object's bytes and a token of this version of it, for :meth:`replace_if_unchanged`;
        :class:`StoreNotFound` if there is none."""

    @abstractmethod
    def get_file(self, key: str, dest_path: str | Path) -> Path:
        """Download ``key`` to ``dest_path`` (created with its parents; whole or untouched, never partial)."""

    @abstractmethod
    def exists(self, key: str) -> bool:
        """Whether an object is stored at ``key``."""

    @abstractmethod
    def stat(self, key: str) -> ObjectInfo:
        """Size and sha256 of ``key``; :class:`StoreNotFound` if there is none."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[str]:
        """Keys that start with ``prefix`` (a plain string prefix, not only a folder), recursive, sorted."""

    @abstractmethod
    def presigned_url(self, key: str, expires_in: int = 3600, filename: str | None = None) -> str:
        """A URL that reads ``key`` without credentials for ``expires_in`` seconds (1 to 7 days).

        S3: a SigV4 presigned GET; local store: the ``file://`` URI of the file. The key is not looked up:
        a URL for a missing key fails when it is opened. ``filename``: the name a browser saves the download as
        (S3: the response's ``Content-Disposition: attachment``); a local path keeps the file's own name.
        """

    # --- shared checks ---------------------------------------------------------------------------------------

    @staticmethod
    def _key(key: str) -> str:
        return check_key(key)

    @staticmethod
    def _prefix(prefix: str) -> str:
        return check_prefix(prefix)

    @staticmethod
    def _expiry(expires_in: int) -> int:
        if (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int)
            or not 1 <= expires_in <= MAX_PRESIGN_SECONDS
        ):
            raise StoreURIError(f"expires_in must be 1 to {MAX_PRESIGN_SECONDS} seconds (7 days), got {expires_in!r}")
        return expires_in

    def _source(self, key: str, path: str | Path) -> Path:
        """The local file ``put_file`` reads, checked so a missing source is not reported as a store failure."""
        path = Path(path)
        if not path.is_file():
            raise StoreError(f"cannot upload {path} to {self.uri_for(key)}: no such file")
        return path


def sha256_file(path: str | Path) -> tuple[str, int]:
    """sha256 hex digest and size in bytes of a file, read in 1 MiB chunks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
