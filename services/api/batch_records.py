"""The service's batches in the store, under ``api/`` (docs/contracts/store-layout.md):

- ``api/batches/<batch-id>/request.json``: the request as accepted (:class:`BatchRequest`, with the caller and the
  cues), written once, before the 202; the same briefs again find it and are the same batch. It is the one
  durable write a new batch waits for: everything else below can be made again from it.
- ``api/batches/<batch-id>/status.json``: the batch's status (:class:`BatchStatus`), written when the runner takes
  the batch and rewritten as its cues move; until then :func:`current_status` answers from the request (every cue
  queued).
- ``api/callers/<token-name>/<batch-id>``: an empty marker per caller and batch, for ``GET /v1/batches``; written
  without ``fsync`` (a power cut may lose it: :func:`restore_caller_marks` makes the request's caller's again).
- ``api/idempotency/<token-name>/<sha256 of the key>.json``: an ``Idempotency-Key`` and the body it was sent with.

Every key is built from a batch id, a token name or a hash, never from a request's text, so no request names a key.

Why so few durable writes: with 20 requests at once, a new batch's three fsynced files (request, marker, status)
were about 90 ms of ``POST /v1/batches``'s p95 (bench/README.md); one is enough to keep an accepted batch.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json

from cues.pipelines.store import ObjectStore
from cues.schemas.api_batch import BatchCue, BatchRequest, BatchStatus, CueStatus
from cues.schemas.batch import CueSpec
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
    """The batch's status as the runner wrote it, or None when it has not taken the batch yet."""
    try:
        return BatchStatus.model_validate_json(store.get_bytes(status_key(batch_id)))
    except StoreNotFound:
        return None


def current_status(store: ObjectStore, batch_id: str) -> BatchStatus | None:
    """The batch's status: the runner's, else the accepted request's (every cue queued); None for no such batch."""
    status = read_status(store, batch_id)
    if status is None:
        try:
            status = initial_status(read_request(store, batch_id))
        except StoreNotFound:
            return None
    return status


def batch_cues(specs: list[CueSpec]) -> tuple[BatchCue, ...]:
    return tuple(BatchCue(cue_id=spec.cue_id, brief_id=spec.brief_id) for spec in specs)


def initial_status(request: BatchRequest) -> BatchStatus:
    """A batch just accepted: every cue of the request queued."""
    return BatchStatus(
        batch_id=request.batch_id,
        state="accepted",
        created=request.created,
        updated=request.created,
        cues=tuple(CueStatus(cue_id=cue.cue_id, brief_id=cue.brief_id) for cue in request.cues),
        webhook={"url": request.webhook_url} if request.webhook_url else None,
    )


def accepted_batches(store: ObjectStore) -> list[str]:
    """Every batch id with a request in the store."""
    prefix = f"{ROOT}/batches/"
    return [key[len(prefix):].split("/")[0] for key in store.list(prefix) if key.endswith("/request.json")]


def _caller_key(caller: str, batch_id: str) -> str:
    return f"{ROOT}/callers/{caller}/{batch_id}"


def mark_caller(store: ObjectStore, caller: str, batch_id: str) -> None:
    """Mark ``batch_id`` as one of ``caller``'s (not durable: see :func:`restore_caller_marks`)."""
    store.put_bytes(_caller_key(caller, batch_id), b"", content_type="text/plain", durable=False)


def restore_caller_marks(store: ObjectStore, requests: list[BatchRequest]) -> int:
    """Mark each request's batch as its caller's where a power cut lost the mark; how many were made again."""
    missing = [r for r in requests if not store.exists(_caller_key(r.caller, r.batch_id))]
    for request in missing:
        mark_caller(store, request.caller, request.batch_id)
    return len(missing)


def is_callers(store: ObjectStore, caller: str, batch_id: str) -> bool:
    return store.exists(_caller_key(caller, batch_id))


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
