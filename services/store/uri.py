"""Store URIs and object keys, checked before any I/O (pure: no file system, no network).

A store is ``file:///abs/path``, a plain path, or ``s3://bucket/prefix``. Keys are relative ``/``-separated paths
inside it; nothing a key says can reach outside the store's root or prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from schemas.errors import StoreURIError

SCHEMES = ("file://", "s3://")
MAX_KEY_LENGTH = 1024
KEY_RULE = "relative '/'-separated names, without empty, '.' or '..' parts, backslashes or control characters"
_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: ``scheme`` is ``file`` (``root`` is an absolute path) or ``s3`` (``bucket``, ``prefix``)."""

    scheme: str
    root: str = ""
    bucket: str = ""
    prefix: str = ""

    @property
    def uri(self) -> str:
        if self.scheme == "file":
            return Path(self.root).as_uri()
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def parse_store_uri(uri: str) -> StoreLocation:
    """Check and split a store URI. Relative paths are made absolute against the current directory."""
    if not isinstance(uri, str) or not uri.strip():
        raise StoreURIError(f"empty store URI; use a path, file:///abs/path or s3://bucket/prefix (got {uri!r})")
    uri = uri.strip()
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        if not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise StoreURIError(
                f"bad bucket name {bucket!r} in {uri!r}: 3–63 lowercase letters, digits, '.' and '-', "
                "starting and ending with a letter or digit"
            )
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix, what="prefix")
        return StoreLocation("s3", bucket=bucket, prefix=prefix)
    if uri.startswith("file://"):
        path = uri[len("file://") :]
        if not path.startswith("/"):
            raise StoreURIError(f"a file:// store URI needs an absolute path, file:///abs/path (got {uri!r})")
        return StoreLocation("file", root=str(Path(path).resolve()))
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise StoreURIError(f"unsupported store scheme {scheme + '://'!r} in {uri!r}; supported: {', '.join(SCHEMES)}")
    if _CONTROL_RE.search(uri):
        raise StoreURIError(f"control characters in store path {uri!r}")
    return StoreLocation("file", root=str(Path(uri).expanduser().resolve()))


def check_key(key: str, what: str = "key") -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`StoreURIError` saying what is allowed."""
    if not isinstance(key, str) or not key:
        raise StoreURIError(f"empty {what}; allowed: {KEY_RULE}")
    problem = None
    if len(key) > MAX_KEY_LENGTH:
        problem = f"longer than {MAX_KEY_LENGTH} characters"
    elif key.startswith("/"):
        problem = "absolute"
    elif "\\" in key:
        problem = "has a backslash"
    elif _CONTROL_RE.search(key):
        problem = "has a control character"
    else:
        parts = key.split("/")
        if "" in parts[:-1] or (parts[-1] == "" and what == "key"):
            problem = "has an empty part"
        elif any(part in (".", "..") for part in parts):
            problem = "has a '.' or '..' part"
    if problem:
        raise StoreURIError(f"bad {what} {key!r}: {problem}; allowed: {KEY_RULE}")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty (everything) or a key, optionally ending in ``/``."""
    if prefix == "":
        return prefix
    check_key(prefix.rstrip("/") or prefix, what="prefix")
    return prefix
