"""The audition page (``GET /audition``): a supervisor's page on the service, to list batches and their cues, submit
a brief, play a delivered cue in the report's audition room, and approve it or leave a note.

The page is static (``static/``: one HTML file, its script and style; no build step, no CDN, works offline) and
holds no data: its script calls the JSON API with the token the supervisor typed, so the page itself needs none.
The room is the report's (:func:`~cues.pipelines.report.audition.audition_room` and ``audition.js``), served from
here as the report serves it, with its links pointing at ``/v1/cues/{id}/files/{path}``.

Decisions where the contract is silent:

- The token lives in the tab's ``sessionStorage`` (gone when the tab closes) and travels only in the
  ``Authorization`` header of ``fetch``: audio comes as bytes through ``fetch`` (decoded by the room, or handed to
  an ``<audio>`` player as a ``blob:`` URL), never as a URL with the token in it. The login field has no ``name``,
  so even a form submitted without the script sends no token.
- ``GET /audition/session`` (the caller's name) is how the page checks a token at login: it answers 401 with the
  one error body, whose message the login form shows.
- ``GET /audition/cues/{cue_id}`` gives what the cue view shows that the manifest alone does not lay out: the
  facts ``cues ls`` shows (:meth:`~cues.services.catalog.DeliveredCue.summary`) and the room's HTML, built here
  from the newest delivered render, so the page's script reads no manifest and copies no room.
- A strict Content-Security-Policy: scripts only from this origin (markup from a manifest cannot run a script even
  if it slipped past the escaping); inline style attributes are allowed, because the room places its markers with
  them; ``connect-src`` allows other origins, because an S3 store answers files with a redirect to a presigned URL.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from cues.pipelines.report.audition import AUDITION_SCRIPT, AUDITION_STYLE, audition_room, comparison
from cues.pipelines.store import ObjectStore
from cues.schemas.api_tokens import ApiToken
from cues.schemas.errors import InvalidRequest
from cues.schemas.manifest import MIX_FILES
from cues.services.api.errors import ApiError
from cues.services.api.limits import limited_caller
from cues.services.catalog import CueNotFound, DeliveredCue, find_cue

_STATIC = files("cues.services.api").joinpath("static")
PAGE = _STATIC.joinpath("audition.html").read_text(encoding="utf-8")
# The page's own files and the report's room, each by a fixed name: no path from a request reaches the disk.
ASSETS = {
    "page.js": (_STATIC.joinpath("page.js").read_text(encoding="utf-8"), "text/javascript"),
    "page.css": (_STATIC.joinpath("page.css").read_text(encoding="utf-8"), "text/css"),
    "room.js": (AUDITION_SCRIPT, "text/javascript"),
    "room.css": (AUDITION_STYLE, "text/css"),
}
MAX_COMPARED = 20  # other cues one room's menu offers: each is a store listing to find its newest render
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self' http: https:; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'self'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter(tags=["audition"])


@router.get("/audition", response_class=HTMLResponse, include_in_schema=False)
def audition_page() -> HTMLResponse:
    """The page: no data in it, so no token needed to load it."""
    return HTMLResponse(PAGE, headers={**SECURITY_HEADERS, "Cache-Control": "no-store"})


@router.get("/audition/static/{name}", include_in_schema=False)
def audition_asset(name: str) -> Response:
    if name not in ASSETS:
        raise ApiError(404, "not_found", f"no file {name!r} on the audition page; it has {', '.join(ASSETS)}")
    text, media_type = ASSETS[name]
    return Response(text, media_type=f"{media_type}; charset=utf-8", headers=SECURITY_HEADERS)


@router.get("/audition/session")
def audition_session(token: ApiToken = Depends(limited_caller)) -> dict:
    """Who the presented token belongs to: the page's login check."""
    return {"name": token.name}


@router.get("/audition/cues/{cue_id}")
def audition_cue(
    cue_id: str,
    request: Request,
    compare: Annotated[list[str], Query(max_length=MAX_COMPARED)] = [],  # noqa: B006 (FastAPI copies it)
    _token: ApiToken = Depends(limited_caller),
) -> dict:
    """The cue view of the newest delivered render of ``cue_id``: ``{"cue_id", "render_key", "summary", "master",
    "room"}``; ``master`` is the file the page's player fetches, ``room`` the audition room's HTML, whose menu of
    other cues holds the delivered ones of ``compare`` (the page sends the cues of the same brief in its batch)."""
    store = request.app.state.store
    cue = _delivered(store, cue_id)
    others = [_delivered(store, other) for other in dict.fromkeys(compare) if other != cue.cue_id]
    comparisons = [comparison(other.manifest, _link(other)) for other in others]
    master = next((name for name in MIX_FILES if name in cue.manifest.files), None)
    return {
        "cue_id": cue.cue_id,
        "render_key": cue.render_key,
        "summary": cue.summary(),
        "master": master and file_url(cue.cue_id, master),
        "room": audition_room(cue.manifest, _link(cue), compare=[c for c in comparisons if c is not None]),
    }


def file_url(cue_id: str, name: str) -> str:
    """Where the page fetches a cue's file (a name from its manifest) with its bearer header."""
    return f"/v1/cues/{quote(cue_id)}/files/{quote(name)}"


def _link(cue: DeliveredCue) -> Callable[[str], str]:
    """The room's links (store keys in the cue's folder) as files URLs."""
    return lambda key: file_url(cue.cue_id, key.removeprefix(cue.prefix + "/"))


def _delivered(store: ObjectStore, cue_id: str) -> DeliveredCue:
    try:
        cue, _older = find_cue(store, cue_id)
    except CueNotFound as error:
        raise ApiError(404, "not_found", str(error)) from None
    except InvalidRequest as error:
        raise ApiError(422, "invalid_request", str(error)) from None
    return cue
