"""The ``file://`` store: a folder, written atomically (temp file in the same folder, fsync, rename)."""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

from schemas.errors import StoreConflict, StoreError, StoreNotFound, StoreURIError
from services.store.base import ObjectInfo, ObjectStore, PutResult, sha256_file
from services.store.uri import StoreLocation

_TMP_MARK = ".tmp-"


class LocalStore(ObjectStore):
    """A store in a local folder (created on first write)."""

    def __init__(self, location: StoreLocation):
        super().__init__(location)
        self.root = Path(location.root)

    def _path(self, key: str) -> Path:
        path = self.root / self._key(key)
        # A symlink inside the store must not lead writes or reads outside it.
        resolved = path.resolve()
        if resolved != self.root.resolve() and self.root.resolve() not in resolved.parents:
            raise StoreURIError(f"key {key!r} resolves outside the store {self.uri} (through a symlink)")
        return path

    def _write(self, key: str, fill, if_absent: bool) -> PutResult:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}{_TMP_MARK}{secrets.token_hex(6)}")
            try:
                with open(tmp, "wb") as handle:
                    digest, size = fill(handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                if if_absent:
                    try:
                        os.link(tmp, path)  # fails if the key exists, even against a concurrent writer
                    except FileExistsError:
                        raise StoreConflict(f"{self.uri_for(key)} already exists") from None
                else:
                    os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as err:
            raise StoreError(f"cannot write {self.uri_for(key)}: {err.strerror or err}") from None
        return PutResult(key, size, digest)

    def put_bytes(
        self, key: str, data: bytes, *, content_type: str | None = None, if_absent: bool = False
    ) -> PutResult:
        def fill(handle):
            handle.write(data)
            return hashlib.sha256(data).hexdigest(), len(data)

        return self._write(key, fill, if_absent)

    def put_file(
        self, key: str, path: str | Path, *, content_type: str | None = None, if_absent: bool = False
    ) -> PutResult:
        def fill(handle):
            digest, size = hashlib.sha256(), 0
            with open(path, "rb") as source:
                while chunk := source.read(1024 * 1024):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            return digest.hexdigest(), size

        return self._write(key, fill, if_absent)

    def get_bytes(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise StoreNotFound(f"{self.uri_for(key)} does not exist") from None
        except OSError as err:
            raise StoreError(f"cannot read {self.uri_for(key)}: {err.strerror or err}") from None

    def get_file(self, key: str, dest: str | Path) -> Path:
        source, dest = self._path(key), Path(dest)
        if not source.is_file():
            raise StoreNotFound(f"{self.uri_for(key)} does not exist")
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}{_TMP_MARK}{secrets.token_hex(6)}")
        try:
            shutil.copyfile(source, tmp)
            os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        return dest

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stat(self, key: str) -> ObjectInfo:
        path = self._path(key)
        if not path.is_file():
            raise StoreNotFound(f"{self.uri_for(key)} does not exist")
        digest, size = sha256_file(path)
        return ObjectInfo(key, size, digest)

    def delete(self, key: str) -> None:
        try:
            self._path(key).unlink(missing_ok=True)
        except IsADirectoryError:
            pass
        except OSError as err:
            raise StoreError(f"cannot delete {self.uri_for(key)}: {err.strerror or err}") from None

    def list(self, prefix: str = "") -> Iterator[str]:
        self._prefix(prefix)
        if not self.root.is_dir():
            return iter(())
        # Walk only the folder the prefix names, not the whole store.
        base = prefix.rpartition("/")[0]
        start = self.root / base if base else self.root
        keys = []
        for folder, _, files in os.walk(start):
            for name in files:
                if name.startswith(".") and _TMP_MARK in name:
                    continue  # a write in progress, or one a crash left behind
                key = Path(folder, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def presigned_url(self, key: str, expires_in: int = 3600) -> str:
        self._expiry(expires_in)
        path = self._path(key)
        if not path.is_file():
            raise StoreNotFound(f"{self.uri_for(key)} does not exist")
        return path.resolve().as_uri()
