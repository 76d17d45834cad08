"""``GET /v1/cues/{cue_id}`` (the manifest), ``/plan`` (the plan, also before the cue is rendered) and
``/files/{path}`` (a file of the cue: from a local store, streamed after its sha256 matches the manifest; from S3, a
307 to a presigned URL that downloads it as ``<cue-id>_<file>``).

A cue id is checked like ``cues show``'s (``catalog.check_name``: lowercase letters, digits, ``-``, ``_``) and a file
path must be one the cue's manifest lists, character for character: anything else is 404 before the store is asked,
so no request names a key outside the cue's folder.

Decisions where the contract is silent: a cue is its newest delivered render (as ``cues show`` takes it); the plan
of a cue not delivered yet is planned from its batch's briefs (one of the caller's batches), as ``cues plan`` does,
without composing or rendering.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from urllib.parse import quote, unquote, urlsplit

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from cues.pipelines.compose.plan import plan_cue
from cues.pipelines.compose.tempo_map import PlanError
from cues.pipelines.generate.job import expand_briefs
from cues.pipelines.store import ObjectStore
from cues.pipelines.store.base import CHUNK
from cues.schemas.api_tokens import ApiToken
from cues.schemas.errors import InvalidRequest
from cues.schemas.manifest import download_name
from cues.services.api.batch_records import batches_of, current_status, read_request
from cues.services.api.errors import ApiError
from cues.services.api.intake import entries_of
from cues.services.api.limits import limited_caller
from cues.services.catalog import CueNotFound, DeliveredCue, check_name, find_cue

router = APIRouter(prefix="/v1/cues", tags=["cues"])

JSON = "application/json"


@router.get("/{cue_id}")
def get_cue(cue_id: str, request: Request, token: ApiToken = Depends(limited_caller)) -> Response:
    """The cue's manifest (its newest delivered render)."""
    return Response(_delivered(request.app.state.store, cue_id).manifest.to_json(), media_type=JSON)


@router.get("/{cue_id}/plan")
def get_plan(cue_id: str, request: Request, token: ApiToken = Depends(limited_caller)) -> Response:
    """The cue's plan: a delivered cue's own, else the plan its batch's brief gives, without rendering."""
    store = request.app.state.store
    try:
        cue, _ = find_cue(store, _checked(cue_id))
    except CueNotFound:
        return Response(_planned(store, token.name, cue_id), media_type=JSON)
    return Response(cue.manifest.plan.model_dump_json(indent=2), media_type=JSON)


@router.get("/{cue_id}/files/{path:path}")
def get_file(cue_id: str, path: str, request: Request, token: ApiToken = Depends(limited_caller)) -> Response:
    """One file the cue's manifest lists: the bytes (local store), or a redirect to a presigned URL (S3)."""
    store, settings = request.app.state.store, request.app.state.settings
    cue = _delivered(store, cue_id)
    entry = cue.files.get(path)
    if entry is None:
        raise ApiError(404, "not_found", f"{path!r} is not a file of cue {cue.cue_id}; its manifest lists them")
    key, name = f"{cue.prefix}/{path}", download_name(cue.cue_id, path)
    if store.location.scheme != "file":
        return RedirectResponse(store.presigned_url(key, settings.link_expiry_s, filename=name), status_code=307)
    handle = open(unquote(urlsplit(store.presigned_url(key)).path), "rb")  # noqa: SIM115 (the response closes it)
    if _sha256(handle) != entry.sha256:
        handle.close()
        raise ApiError(409, "store_damaged", f"{store.uri_for(key)} does not match its sha256 in the manifest: the "
                       "file was changed or damaged; re-run its batch to deliver the cue again")
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
               "Content-Length": str(entry.bytes)}
    return StreamingResponse(_chunks(handle), media_type=entry.content_type or "application/octet-stream",
                             headers=headers)


def _checked(cue_id: str) -> str:
    try:
        return check_name(cue_id)
    except InvalidRequest:
        message = f"no cue {cue_id!r}: a cue id is lowercase letters, digits, '-' and '_'"
        raise ApiError(404, "not_found", message) from None


def _delivered(store: ObjectStore, cue_id: str) -> DeliveredCue:
    try:
        cue, _ = find_cue(store, _checked(cue_id))
    except CueNotFound:
        raise ApiError(404, "not_found", f"no delivered cue {cue_id!r} (one still rendering has none yet)") from None
    return cue


def _planned(store: ObjectStore, caller: str, cue_id: str) -> str:
    """The plan of ``cue_id`` from the caller's batch that has it, as ``cues plan`` makes it; 404 when none has."""
    for batch_id in batches_of(store, caller):
        status = current_status(store, batch_id)
        if status is None or all(cue.cue_id != cue_id for cue in status.cues):
            continue
        _, specs = expand_briefs(entries_of(read_request(store, batch_id).briefs, store))
        for spec in specs:
            if spec.cue_id == cue_id:
                try:
                    return plan_cue(spec.brief, spec.seed, spec.cutdown, spec.revision).model_dump_json(indent=2)
                except PlanError as err:
                    raise ApiError(422, "invalid_request", f"cue {cue_id} cannot be planned: {err}") from None
    raise ApiError(404, "not_found", f"no cue {cue_id!r} delivered or in a batch of yours")


def _sha256(handle) -> str:
    digest = hashlib.sha256()
    while block := handle.read(CHUNK):
        digest.update(block)
    handle.seek(0)
    return digest.hexdigest()


def _chunks(handle) -> Iterator[bytes]:
    """The file from the handle that was hashed (not opened again: what is sent is what was checked)."""
    with handle:
        while block := handle.read(CHUNK):
            yield block
