"""Store URIs and object keys, checked before any I/O (pure: no file system, no network).

A store is ``file:///abs/path``, a plain path, or ``s3://bucket/prefix``. Keys are relative ``/``-separated paths
inside it; nothing a key says can reach outside the store's root or prefix.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from urllib.parse import quote, unquote

from cues.schemas.errors import StoreURIError

SCHEMES = ("file://", "s3://")
MAX_KEY_LENGTH = 1024  # characters; S3's limit is 1024 bytes of UTF-8, so longer non-ASCII keys fail there
TMP_MARK = ".tmp-"  # local writes go to ".<name>.tmp-<random>" first; keys may not look like that
KEY_RULE = (
    "relative '/'-separated names, without empty, '.' or '..' parts, backslashes, control characters "
    "or temporary-file names ('.name.tmp-…')"
)
_BUCKET_RE = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IP_RE = re.compile(r"\d+\.\d+\.\d+\.\d+")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class StoreLocation:
    """Where a store lives: ``scheme`` is ``file`` (``root`` is an absolute path) or ``s3`` (``bucket``, ``prefix``).

    ``prefix`` has no leading or trailing ``/``; empty means the whole bucket.
    """

    scheme: str
    root: str = ""
    bucket: str = ""
    prefix: str = ""

    @property
    def uri(self) -> str:
        """The canonical URI; :func:`parse_store_uri` reads it back to the same location."""
        if self.scheme == "file":
            return file_uri(self.root)
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")

    def uri_for(self, key: str) -> str:
        """Full URI of the object at ``key`` (checked)."""
        key = check_key(key)
        if self.scheme == "file":
            return file_uri(f"{self.root}/{key}")
        return f"{self.uri}/{key}"


def file_uri(path: str) -> str:
    """``file://`` URI of an absolute path, percent-encoding only what a URI path cannot hold (space, %, #, ?)."""
    # Path.as_uri would also encode ':' and '@', which are legal in a URI path and common in keys (timestamps).
    return "file://" + quote(path, safe="/:@!$&'()*+,;=~")


def parse_store_uri(uri: str) -> StoreLocation:
    """Check and split a store URI. Relative paths are made absolute against the current directory."""
    if not isinstance(uri, str) or not uri.strip():
        raise StoreURIError(f"empty store URI; use a path, file:///abs/path or s3://bucket/prefix (got {uri!r})")
    uri = uri.strip()
    if uri.startswith("s3://"):
        bucket, _, prefix = uri[len("s3://") :].partition("/")
        check_bucket(bucket, uri)
        prefix = prefix.strip("/")
        if prefix:
            check_key(prefix, what="prefix")
        return StoreLocation("s3", bucket=bucket, prefix=prefix)
    if uri.startswith("file://"):
        # file:// URIs are percent-encoded (Path.as_uri writes "%20" for a space); plain paths are taken literally.
        path = unquote(uri[len("file://") :])
        if not path.startswith("/"):
            raise StoreURIError(f"a file:// store URI needs an absolute path, file:///abs/path (got {uri!r})")
        return StoreLocation("file", root=_absolute(path, uri))
    for scheme in ("s3:", "file:"):
        if uri.startswith(scheme):  # "s3:/bucket" would otherwise be a new local folder called "s3:"
            rest = uri[len(scheme) :]
            slashes = "one '/'" if rest.startswith("/") else "no '//'"
            meant = f"{scheme}//{rest.lstrip('/')}" if scheme == "s3:" else f"file:///{rest.lstrip('/')}"
            raise StoreURIError(f"store URI {uri!r} has {slashes} after {scheme!r}; did you mean {meant!r}?")
    if "://" in uri:
        scheme = uri.split("://", 1)[0]
        raise StoreURIError(f"unsupported store scheme {scheme + '://'!r} in {uri!r}; supported: {', '.join(SCHEMES)}")
    return StoreLocation("file", root=_absolute(uri, uri))


def _absolute(path: str, uri: str) -> str:
    if _CONTROL_RE.search(path):
        raise StoreURIError(f"control characters in store path {uri!r}")
    # abspath, not resolve: a store reached through a symlinked folder keeps the name the user gave it.
    return os.path.abspath(os.path.expanduser(path))


def check_bucket(bucket: str, uri: str) -> str:
    """Return ``bucket`` if it follows S3's naming rules, else raise :class:`StoreURIError`."""
    if (
        not _BUCKET_RE.fullmatch(bucket)  # fullmatch: "^…$" with match() let "bucket\n" through
        or ".." in bucket
        or ".-" in bucket
        or "-." in bucket
        or _IP_RE.fullmatch(bucket)
        or bucket.startswith("xn--")
    ):
        raise StoreURIError(
            f"bad bucket name {bucket!r} in {uri!r}: 3–63 lowercase letters, digits, '.' and '-', "
            "starting and ending with a letter or digit, not shaped like an IP address"
        )
    return bucket


def check_key(key: str, what: str = "key") -> str:
    """Return ``key`` if it is a safe relative key, else raise :class:`StoreURIError` saying what is allowed."""
    if not isinstance(key, str):
        raise StoreURIError(f"a {what} must be a string, got {type(key).__name__} {key!r}; allowed: {KEY_RULE}")
    if not key:
        raise StoreURIError(f"empty {what}; allowed: {KEY_RULE}")
    problem = _key_problem(key)
    if problem:
        raise StoreURIError(f"bad {what} {key!r}: {problem}; allowed: {KEY_RULE}")
    return key


def check_prefix(prefix: str) -> str:
    """A listing prefix: empty (everything), or the start of a key, optionally ending in ``/``."""
    if prefix == "":
        return prefix
    if not isinstance(prefix, str):
        check_key(prefix, what="prefix")
    problem = _key_problem(prefix[:-1] if prefix.endswith("/") and len(prefix) > 1 else prefix)
    if problem:
        raise StoreURIError(f"bad prefix {prefix!r}: {problem}; allowed: {KEY_RULE}")
    return prefix


def _key_problem(key: str) -> str | None:
    if len(key) > MAX_KEY_LENGTH:
        return f"longer than {MAX_KEY_LENGTH} characters"
    if key.startswith("/"):
        return "absolute"
    if "\\" in key:
        return "has a backslash"
    if _CONTROL_RE.search(key):
        return "has a control character"
    parts = key.split("/")
    if "" in parts:
        return "has an empty part"
    if any(part in (".", "..") for part in parts):
        return "has a '.' or '..' part"
    if any(part.startswith(".") and TMP_MARK in part for part in parts):
        return "has a temporary-file name"
    return None
