"""The service's batches in the store, under ``api/`` (docs/contracts/store-layout.md):

- ``api/batches/<batch-id>/request.json``: the request as accepted (:class:`BatchRequest`), written once, before
  the 202; the same briefs again find it and are the same batch.
- ``api/batches/<batch-id>/status.json``: the batch's status (:class:`BatchStatus`), rewritten as its cues move.
- ``api/callers/<token-name>/<batch-id>``: an empty marker per caller and batch, for ``GET /v1/batches``.
- ``api/idempotency/<token-name>/<sha256 of the key>.json``: an ``Idempotency-Key`` and the body it was sent with.

Every key is built from a batch id, a token name or a hash, never from a request's text, so no request names a key.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from cues.pipelines.store import ObjectStore
from cues.schemas.api_batch import BatchRequest, BatchStatus
from cues.schemas.errors import StoreConflict, StoreNotFound

ROOT = "api"


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def request_key(batch_id: str) -> str:
    return f"{ROOT}/batches/{batch_id}/request.json"


def status_key(batch_id: str) -> str:
    return f"{ROOT}/batches/{batch_id}/status.json"


def record_request(store: ObjectStore, request: BatchRequest) -> BatchRequest:
    """Write ``request`` unless its batch was accepted before; the request the store holds (the first one wins)."""
    try:
        store.put_bytes(request_key(request.batch_id), request.model_dump_json(indent=2).encode(),
                        content_type="application/json", if_absent=True)
    except StoreConflict:
        return read_request(store, request.batch_id)
    return request


def read_request(store: ObjectStore, batch_id: str) -> BatchRequest:
    return BatchRequest.model_validate_json(store.get_bytes(request_key(batch_id)))


def write_status(store: ObjectStore, status: BatchStatus) -> None:
    store.put_bytes(status_key(status.batch_id), status.model_dump_json(indent=2).encode(),
                    content_type="application/json")


def read_status(store: ObjectStore, batch_id: str) -> BatchStatus | None:
    """The batch's status, or None when none is written yet (accepted, the service stopped before it wrote one)."""
    try:
        return BatchStatus.model_validate_json(store.get_bytes(status_key(batch_id)))
    except StoreNotFound:
        return None


def accepted_batches(store: ObjectStore) -> list[str]:
    """Every batch id with a request in the store."""
    prefix = f"{ROOT}/batches/"
    return [key[len(prefix):].split("/")[0] for key in store.list(prefix) if key.endswith("/request.json")]


def mark_caller(store: ObjectStore, caller: str, batch_id: str) -> None:
    store.put_bytes(f"{ROOT}/callers/{caller}/{batch_id}", b"", content_type="text/plain")


def batches_of(store: ObjectStore, caller: str) -> list[str]:
    prefix = f"{ROOT}/callers/{caller}/"
    return [key[len(prefix):] for key in store.list(prefix)]


def _idempotency_key(caller: str, key: str) -> str:
    return f"{ROOT}/idempotency/{caller}/{hashlib.sha256(key.encode()).hexdigest()}.json"


def claim_idempotency_key(store: ObjectStore, caller: str, key: str, body: bytes, batch_id: str) -> str | None:
    """Map ``caller``'s ``key`` to ``batch_id`` (the first use wins); returns the batch id the key maps to, or None
    when the key was first sent with another body (a client bug the caller must hear about: 409)."""
    digest = hashlib.sha256(body).hexdigest()
    where = _idempotency_key(caller, key)
    entry = {"batch_id": batch_id, "body_sha256": digest, "created": now_iso()}
    try:
        store.put_bytes(where, json.dumps(entry).encode(), content_type="application/json", if_absent=True)
        return batch_id
    except StoreConflict:
        first = json.loads(store.get_bytes(where))
        return first["batch_id"] if first["body_sha256"] == digest else None
