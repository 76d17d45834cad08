"""The ``file://`` store: a folder, written atomically (temp file in the same folder, fsync, rename)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

from cues.pipelines.store.base import CHUNK, ObjectInfo, ObjectStore, PutResult, sha256_file
from cues.pipelines.store.uri import TMP_MARK, StoreLocation, file_uri
from cues.schemas.errors import StoreConflict, StoreError, StoreNotFound, StoreURIError

# Writes the object's bytes to an open temp file; returns (sha256 hex, size in bytes) of what it wrote.
Filler = Callable[[BinaryIO], tuple[str, int]]


def temp_name(path: Path) -> Path:
    """A hidden, unique sibling of ``path``: ``.<name>.tmp-<random>``. ``list`` never shows these."""
    return path.with_name(f".{path.name}{TMP_MARK}{secrets.token_hex(6)}")


def is_temp_name(name: str) -> bool:
    return name.startswith(".") and TMP_MARK in name


class LocalStore(ObjectStore):
    """A store in a local folder (created on first write). ``content_type`` is accepted and not kept."""

    def __init__(self, location: StoreLocation):
        super().__init__(location)
        self.root = Path(location.root)

    def _path(self, key: str) -> Path:
        return self._inside(self.root / self._key(key), key)

    def _inside(self, path: Path, key: str) -> Path:
        # Keys cannot say "..", but a symlink inside the store could still lead a read or write outside it. Only
        # the names below the root are looked at, and the path resolved when one is a link: resolving the root and
        # the path on every call was a third of a request's store time with 20 requests at once (an lstat per
        # name from /, each one a wait for the GIL).
        if not _links_below(self.root, path):
            return path
        root, resolved = self.root.resolve(), path.resolve()
        if resolved != root and root not in resolved.parents:
            raise StoreURIError(f"{key!r} resolves outside the store {self.uri} (through a symlink)")
        return path

    # --- writing ---------------------------------------------------------------------------------------------

    def _write(self, key: str, fill: Filler, if_absent: bool, durable: bool = True) -> PutResult:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_name(path)
            try:
                with open(tmp, "wb") as handle:
                    digest, size = fill(handle)
                    handle.flush()
                    if durable:
                        os.fsync(handle.fileno())  # the bytes are on disk before the name points at them
                if if_absent:
                    try:
                        os.link(tmp, path)  # fails if the name exists, even if another writer made it just now
                    except FileExistsError:
                        raise StoreConflict(f"{self.uri_for(key)} already exists") from None
                else:
                    os.replace(tmp, path)
                if durable:
                    _fsync_dir(path.parent)  # make the rename itself survive a power cut
            finally:
                tmp.unlink(missing_ok=True)
        except OSError as err:
            raise StoreError(f"cannot write {self.uri_for(key)}: {err.strerror or err}") from None
        return PutResult(key, size, digest)

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str | None = None,
        if_absent: bool = False,
        durable: bool = True,
    ) -> PutResult:
        def fill(handle: BinaryIO) -> tuple[str, int]:
            handle.write(data)
            return hashlib.sha256(data).hexdigest(), len(data)

        return self._write(key, fill, if_absent, durable)

    def put_file(
        self, key: str, path: str | Path, *, content_type: str | None = None, if_absent: bool = False
    ) -> PutResult:
        source = self._source(key, path)

        def fill(handle: BinaryIO) -> tuple[str, int]:
            digest, size = hashlib.sha256(), 0
            with open(source, "rb") as reader:
                while chunk := reader.read(CHUNK):
                    handle.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
            return digest.hexdigest(), size

        return self._write(key, fill, if_absent)

    def replace_if_unchanged(
        self, key: str, data: bytes, version: str, *, content_type: str | None = None
    ) -> PutResult:
        # The version is the content's sha256. Writers of this method take turns on an exclusive lock of the
        # object's folder (flock: every process on this machine, released if one dies), so the check and the
        # rename cannot interleave with another's; readers are not held up (they see the old or the new file).
        path = self._path(key)
        try:
            folder = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        except FileNotFoundError:
            raise StoreConflict(f"{self.uri_for(key)} no longer exists") from None
        except OSError as err:
            raise StoreError(f"cannot write {self.uri_for(key)}: {err.strerror or err}") from None
        try:
            fcntl.flock(folder, fcntl.LOCK_EX)
            try:
                current = hashlib.sha256(path.read_bytes()).hexdigest()
            except FileNotFoundError:
                raise StoreConflict(f"{self.uri_for(key)} no longer exists") from None
            if current != version:
                raise StoreConflict(f"{self.uri_for(key)} changed since it was read")
            return self.put_bytes(key, data, content_type=content_type)
        finally:
            os.close(folder)  # and the lock with it

    def delete(self, key: str) -> None:
        path = self._path(key)
        if path.is_dir():
            return  # a folder is not an object, so there is nothing at this key
        try:
            path.unlink(missing_ok=True)
        except OSError as err:
            raise StoreError(f"cannot delete {self.uri_for(key)}: {err.strerror or err}") from None

    # --- reading ---------------------------------------------------------------------------------------------

    def _existing(self, key: str) -> Path:
        path = self._path(key)
        if not path.is_file():
            raise StoreNotFound(f"{self.uri_for(key)} does not exist")
        return path

    def get_bytes(self, key: str) -> bytes:
        path = self._existing(key)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            raise StoreNotFound(f"{self.uri_for(key)} does not exist") from None  # deleted since the check
        except OSError as err:
            raise StoreError(f"cannot read {self.uri_for(key)}: {err.strerror or err}") from None

    def get_versioned(self, key: str) -> tuple[bytes, str]:
        data = self.get_bytes(key)
        return data, hashlib.sha256(data).hexdigest()

    def get_file(self, key: str, dest_path: str | Path) -> Path:
        source, dest = self._existing(key), Path(dest_path)
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = temp_name(dest)
            try:
                shutil.copyfile(source, tmp)
                os.replace(tmp, dest)
            finally:
                tmp.unlink(missing_ok=True)
        except FileNotFoundError as err:
            if not source.is_file():
                raise StoreNotFound(f"{self.uri_for(key)} does not exist") from None
            raise StoreError(f"cannot copy {self.uri_for(key)} to {dest}: {err.strerror or err}") from None
        except OSError as err:
            raise StoreError(f"cannot copy {self.uri_for(key)} to {dest}: {err.strerror or err}") from None
        return dest

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def stat(self, key: str) -> ObjectInfo:
        digest, size = sha256_file(self._existing(key))
        return ObjectInfo(key, size, digest)

    def list(self, prefix: str = "") -> Iterator[str]:
        self._prefix(prefix)
        # Walk only the folder the prefix names, not the whole store.
        base = prefix.rpartition("/")[0]
        start = self._inside(self.root / base, prefix) if base else self.root
        keys = []
        for folder, dirs, files in os.walk(start):
            dirs[:] = [name for name in dirs if not is_temp_name(name)]
            for name in files:
                if is_temp_name(name):
                    continue  # a write in progress, or one a crash left behind
                key = Path(folder, name).relative_to(self.root).as_posix()
                if key.startswith(prefix):
                    keys.append(key)
        return iter(sorted(keys))

    def presigned_url(self, key: str, expires_in: int = 3600, filename: str | None = None) -> str:
        self._expiry(expires_in)
        return file_uri(str(self._path(key).resolve()))


def _links_below(root: Path, path: Path) -> bool:
    """Whether a name of ``path`` below ``root`` is a symbolic link (up to the first that does not exist)."""
    current = root
    for name in path.relative_to(root).parts:
        current = current / name
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                return True
        except (FileNotFoundError, NotADirectoryError):
            return False  # nothing below a missing name exists to lead anywhere
        except OSError:
            return True  # cannot tell: let the full resolution decide
    return False


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
