"""``POST /v1/batches`` (briefs in, 202 with the batch), ``GET /v1/batches`` and ``GET /v1/batches/{batch_id}``.

A request is checked in this order, each refusal in the one error body: the token (401), its rate limit (429), the
body's size (413), its type (415), the briefs (422, every problem with its path), the cues they expand to against
the token's ``max_batch_cues`` (413), the ``Idempotency-Key`` (409 when it came with another body). Then the request
is written to the store and only then answered 202: an accepted batch is never only in memory (one durable write,
``request.json``, which holds the caller and the cues; the status is answered from it until the runner takes the
batch: ``batch_records``).

Decisions where the contract is silent: the same briefs are the same batch whoever sends them (the batch id is
their cues' hash); each caller sees the batches it sent (``GET /v1/batches``), and another caller's batch id answers
404 as an unknown one does. A batch sent again after it ended ``partial`` or ``failed`` runs again (only the cues
not delivered are made, as with ``cues submit``); one that was delivered is answered as it stands. Its first
request's webhook stays its webhook.
"""

from __future__ import annotations

import re

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from cues.schemas.api_batch import BatchRequest, BatchStatus
from cues.schemas.api_tokens import ApiToken
from cues.services.api.batch_records import (
    batch_cues,
    batches_of,
    claim_idempotency_key,
    current_status,
    initial_status,
    is_callers,
    mark_caller,
    now_iso,
    read_status,
    record_request,
    write_status,
)
from cues.services.api.errors import ApiError
from cues.services.api.intake import read_request as read_body
from cues.services.api.limits import limited_caller
from cues.services.api.server_timing import ServerTiming

router = APIRouter(prefix="/v1", tags=["batches"])

BATCH_ID = re.compile(r"^b-[0-9a-f]{12}$")
WEBHOOK_HEADER = "cues-webhook-url"
IDEMPOTENCY_HEADER = "idempotency-key"
MAX_IDEMPOTENCY_KEY = 255


@router.post("/batches", status_code=202)
async def submit_batch(request: Request, token: ApiToken = Depends(limited_caller)) -> JSONResponse:
    """Accept a batch of briefs (YAML brief file, or JSON ``{"briefs": [...], "webhook_url": ...}``): 202 with the
    batch id, its status URL (also in ``Location``) and its cues."""
    body = await _capped_body(request, request.app.state.settings.max_body_bytes)
    request.state.timing = ServerTiming()
    status = await run_in_threadpool(_accept, request, token, body)
    answer = {"batch_id": status.batch_id, "status_url": _status_url(status.batch_id), "state": status.state,
              "cues": [cue.model_dump(mode="json") for cue in status.cues]}
    return JSONResponse(answer, status_code=202, headers={"Location": _status_url(status.batch_id)})


@router.get("/batches")
def list_batches(request: Request, token: ApiToken = Depends(limited_caller)) -> dict:
    """The caller's batches, newest first."""
    store = request.app.state.store
    found = [_status_of(store, batch_id) for batch_id in batches_of(store, token.name)]
    found = sorted((s for s in found if s is not None), key=lambda s: (s.created, s.batch_id), reverse=True)
    return {"batches": [status.model_dump(mode="json") for status in found]}


@router.get("/batches/{batch_id}")
def get_batch(batch_id: str, request: Request, token: ApiToken = Depends(limited_caller)) -> dict:
    """A batch's state and each of its cues' (queued, composing, rendering, delivered, failed with the reason)."""
    store = request.app.state.store
    status = _status_of(store, batch_id) if _is_callers(store, token.name, batch_id) else None
    if status is None:
        raise ApiError(404, "not_found", f"no batch {batch_id!r} of yours here; GET /v1/batches lists them")
    return status.model_dump(mode="json")


def _accept(request: Request, token: ApiToken, body: bytes) -> BatchStatus:
    app = request.app
    store, runner = app.state.store, app.state.runner
    headers, timing = request.headers, request.state.timing
    timing.lap("wait")  # for a thread of the pool
    intake = read_body(body, headers.get("content-type", ""), headers.get(WEBHOOK_HEADER), store, app.state.targets)
    if intake.webhook_url and app.state.runner.announces is False:
        raise ApiError(422, "invalid_request", "this service sends no webhooks (it was started without "
                       "--webhook-secret)", details=[{"path": "webhook_url", "message": "not available"}])
    if len(intake.cues) > token.max_batch_cues:
        raise ApiError(413, "batch_too_large", f"the briefs expand to {len(intake.cues)} cues; token {token.name!r} "
                       f"may submit at most {token.max_batch_cues} per batch: split them")
    batch_id = intake.batch_id
    timing.lap("check")
    key = headers.get(IDEMPOTENCY_HEADER)
    if key is not None:
        if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY:
            raise ApiError(422, "invalid_request", f"Idempotency-Key must have 1 to {MAX_IDEMPOTENCY_KEY} characters")
        mapped = claim_idempotency_key(store, token.name, key, body, batch_id)
        if mapped is None:
            raise ApiError(409, "idempotency_conflict", "this Idempotency-Key was sent before with another body; "
                           "use a new key for new briefs")
        batch_id = mapped
    accepted = BatchRequest(batch_id=batch_id, caller=token.name, created=now_iso(), briefs=intake.text,
                            source="request", webhook_url=intake.webhook_url, cues=batch_cues(intake.cues))
    # The mark first: the request's fsync below then commits its name too on a journaling file system.
    mark_caller(store, token.name, batch_id)
    accepted = record_request(store, accepted)  # the one durable write before the 202: a restarted service finds it
    status = read_status(store, batch_id)
    if status is None:  # not taken by the runner yet: answered from the request until it is
        status = initial_status(accepted)
    elif status.state in ("partial", "failed"):
        status = _again(status)
        write_status(store, status)
    if not status.finished:
        runner.submit(batch_id)
    timing.lap("store")
    return status


def _again(status: BatchStatus) -> BatchStatus:
    """A batch that ended partial or failed, accepted again: its undelivered cues queued."""
    cues = tuple(c if c.state == "delivered" else c.model_copy(update={"state": "queued", "reason": None})
                 for c in status.cues)
    return status.model_copy(update={"state": "accepted", "cues": cues, "reason": None, "updated": now_iso()})


def _status_of(store, batch_id: str) -> BatchStatus | None:
    return current_status(store, batch_id) if BATCH_ID.match(batch_id) else None


def _is_callers(store, caller: str, batch_id: str) -> bool:
    return bool(BATCH_ID.match(batch_id)) and is_callers(store, caller, batch_id)


def _status_url(batch_id: str) -> str:
    return f"/v1/batches/{batch_id}"


async def _capped_body(request: Request, cap: int) -> bytes:
    """The body, or 413 as soon as it passes ``cap`` bytes (by its ``Content-Length``, or while it streams in)."""
    declared = request.headers.get("content-length")
    too_large = ApiError(413, "too_large", f"the body is over {cap:,} bytes; send at most {cap:,} (a brief file is "
                         "at most 1 MiB): split the briefs into several batches")
    if declared is not None and declared.isdigit() and int(declared) > cap:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)
