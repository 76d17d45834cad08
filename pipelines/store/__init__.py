"""The object store: one interface (:class:`ObjectStore`), a local-folder and an S3 backend, chosen by URI.

Example::

    store = open_store("s3://acme-music/cues")          # or "file:///srv/cues", "./cue-store", None
    result = store.put_bytes("cues/c1/manifest.json", data, content_type="application/json")
"""

from __future__ import annotations

import os

from cues.pipelines.store.base import ObjectInfo, ObjectStore, PutResult
from cues.pipelines.store.local import LocalStore
from cues.pipelines.store.s3 import S3Store
from cues.pipelines.store.uri import StoreLocation, check_key, parse_store_uri
from cues.schemas.config import DEFAULT_STORE
from cues.schemas.errors import StoreURIError

__all__ = [
    "LocalStore",
    "ObjectInfo",
    "ObjectStore",
    "PutResult",
    "S3Store",
    "StoreLocation",
    "check_key",
    "open_store",
    "parse_store_uri",
]


def open_store(uri: str | None = None, existing: bool = False) -> ObjectStore:
    """The store at ``uri``; without one, ``CUES_STORE`` from the environment, else ``./cue-store``.

    No I/O happens here: a bad URI raises :class:`StoreURIError` at once, an unreachable store on first use. With
    ``existing`` (commands that only read), a local store's folder must exist, else :class:`StoreURIError` names it:
    a mistyped path must not read as an empty store. (An S3 prefix cannot be told from an empty one; a missing
    bucket fails on first use.)
    """
    if uri is None:
        uri = os.environ.get("CUES_STORE") or DEFAULT_STORE
    location = parse_store_uri(uri)
    if existing and location.scheme == "file" and not os.path.isdir(location.root):
        raise StoreURIError(f"no store at {location.root}: the folder does not exist; check --store (or CUES_STORE)")
    if location.scheme == "s3":
        return S3Store(location)
    return LocalStore(location)
