"""``POST /v1/batches``'s body → briefs, checked exactly as ``cues validate`` checks a file, and the batch they make.

A YAML body (``application/yaml``, ``text/yaml``) is a brief file as ``cues validate`` reads it: one brief, several
documents, or a batch with ``defaults:``. A JSON body is ``{"briefs": [<brief>, ...] | <brief file mapping>,
"webhook_url": "https://..."}``; its briefs are read through the same reader (as the YAML they are), so both give the
same problems. A YAML body names its webhook in the ``Cues-Webhook-Url`` header.

Decisions where the contract is silent: one invalid brief refuses the whole request (422 listing every problem),
where ``cues submit`` delivers the valid ones: a client fixes and sends again, and a batch is never half of what was
asked for. Problems are located as ``briefs[<i>].<field path>`` (``i`` counts the briefs of the request from 0, after
``defaults:`` are merged); a problem of the whole body has the path ``briefs``. A webhook is ``https://``, or
``http://`` to this machine (a receiver beside the service, as in tests).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from cues.pipelines.generate.job import batch_id_of, expand_briefs
from cues.pipelines.generate.revision_source import StoreRevisions
from cues.pipelines.store import ObjectStore
from cues.schemas.batch import CueSpec
from cues.schemas.brief_file import BriefEntry, mark_duplicate_ids, read_brief_bytes
from cues.services.api.errors import ApiError, problem_details
from cues.services.api.webhook_targets import WebhookTargetRefused, WebhookTargets

YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
JSON_TYPE = "application/json"
JSON_FIELDS = ("briefs", "webhook_url")
SOURCE = "request"  # how messages and the batch record name the body
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MAX_URL = 2048


@dataclass(frozen=True)
class Intake:
    """A valid request: its briefs as stored (``text``), the callback, and the cues they expand to."""

    text: str
    webhook_url: str | None
    entries: list[BriefEntry]
    cues: list[CueSpec]

    @property
    def batch_id(self) -> str:
        return batch_id_of(self.cues)


def read_request(
    body: bytes,
    content_type: str,
    webhook_header: str | None,
    store: ObjectStore,
    targets: WebhookTargets = WebhookTargets(),
) -> Intake:
    """The request's briefs, validated and expanded, or an :class:`ApiError` (415, 422) saying what is wrong;
    ``targets``: the addresses a webhook may go to."""
    media = content_type.split(";")[0].strip().lower()
    if media in YAML_TYPES:
        text, webhook = _decoded(body), webhook_header
    elif media == JSON_TYPE:
        text, webhook = _json_briefs(body)
    else:
        given = media or "no type"
        raise ApiError(415, "unsupported_media_type",
                       f"send the briefs as application/yaml (a brief file) or application/json, not {given}")
    entries = entries_of(text, store)
    invalid = [entry for entry in entries if not entry.ok]
    if invalid:
        details = [detail for entry in invalid for detail in problem_details(entry.error.problems, _where(entry))]
        raise ApiError(422, "invalid_briefs", f"{len(invalid)} of {len(entries)} brief(s) are invalid; nothing was "
                       "accepted", details=details)
    outcomes, cues = expand_briefs(entries)
    failed = [outcome for outcome in outcomes if not outcome.ok]
    if failed:
        details = [{"path": f"briefs[{o.position - 1}]", "message": o.error or ""} for o in failed]
        raise ApiError(422, "invalid_briefs", "a brief could not be expanded into cues", details=details)
    return Intake(text, check_webhook(webhook, targets), entries, cues)


def entries_of(text: str, store: ObjectStore) -> list[BriefEntry]:
    """Every brief of the request's text, as ``cues validate`` reads a file (revisions against ``store``)."""
    return mark_duplicate_ids(read_brief_bytes(text.encode(), SOURCE, StoreRevisions(store)))


def check_webhook(url: str | None, targets: WebhookTargets = WebhookTargets()) -> str | None:
    """``url`` if it is a webhook URL the service accepts: https (http only to this machine), no credentials, and not
    to an address ``targets`` refuses (``webhook_targets.py``); else a 422."""
    if url is None:
        return None
    parts = urlsplit(url) if isinstance(url, str) and len(url) <= MAX_URL else None
    local = parts is not None and parts.scheme == "http" and parts.hostname in LOOPBACK
    if parts is None or not parts.hostname or not (parts.scheme == "https" or local) or parts.username:
        raise ApiError(422, "invalid_request", "webhook_url must be an https:// URL (http:// only to this machine), "
                       f"at most {MAX_URL} characters, without credentials", details=[{"path": "webhook_url",
                       "message": "not an https URL"}])
    try:
        targets.check_at_intake(url)
    except WebhookTargetRefused as refused:
        raise ApiError(422, "invalid_request", str(refused),
                       details=[{"path": "webhook_url", "message": "not a public address"}]) from None
    return url


def _where(entry: BriefEntry) -> str:
    return f"briefs[{entry.position - 1}]" if entry.position else ""  # the file's own problems name their field


def _decoded(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(422, "invalid_briefs", "the body is not UTF-8 text",
                       details=[{"path": "briefs", "message": "not UTF-8 text"}]) from None


def _json_briefs(body: bytes) -> tuple[str, str | None]:
    """A JSON request's briefs as a brief file's text (JSON is YAML), and its webhook."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError) as err:
        raise ApiError(422, "invalid_request", f"the body is not JSON: {err}") from None
    if not isinstance(request, dict) or "briefs" not in request:
        raise ApiError(422, "invalid_request", 'a JSON body is {"briefs": [...], "webhook_url": "..."}',
                       details=[{"path": "briefs", "message": "required"}])
    unknown = sorted(str(key) for key in request if key not in JSON_FIELDS)
    if unknown:
        details = [{"path": key, "message": "unknown field"} for key in unknown]
        raise ApiError(422, "invalid_request", f"unknown field(s) {', '.join(unknown)}; a JSON body holds "
                       f"{', '.join(JSON_FIELDS)}", details=details)
    briefs = request["briefs"]
    document = {"briefs": briefs} if isinstance(briefs, list) else briefs
    return json.dumps(document, ensure_ascii=False), request.get("webhook_url")
