"""Signed webhooks: when a batch ends, its summary is POSTed to the URL the batch named, signed, with retries.

The signature (header ``Cues-Signature: t=<unix seconds>,v1=<hex>``) is HMAC-SHA256 over ``f"{t}.".encode() +
body`` with the caller's signing secret, so a receiver can check that the body came from this service, unchanged,
recently (the timestamp is inside the MAC: a replayed old delivery fails the tolerance check). Each caller (API
token) has its own secret, derived from the service's secret (:func:`webhook_secret`), so one client can neither
verify nor forge another's deliveries; ``cues token webhook-secret NAME`` prints it.

Decisions where the contract is silent:

- Each attempt is signed afresh with its own timestamp: a retry 63 s after the first POST must still pass a
  receiver's 5-minute tolerance.
- Retried: no answer (refused, reset, timed out), 5xx and 429 (after ``Retry-After`` when it says at most 60 s and
  more than the backoff). Not retried: any other status that is not 2xx (a 3xx is not followed: the signature
  belongs to the URL the batch named).
- A delivery already recorded as delivered for the same URL is not sent again: a restarted service that resumes
  its batches calls :func:`deliver_batch_webhook` again, and receivers should not see a batch end twice. They may
  still (a crash between the 2xx and the record): ``Cues-Delivery`` names a delivery, the same on every retry.
- The record is written after every attempt; a store that fails then is logged and delivery goes on (the receiver
  hearing of the batch matters more than the record of it).
- Log lines name the batch, the URL's host, the status: never the secret, the signature or the body.
- Sent only to public addresses and the networks the service allows (``webhook_targets.py``: no requests into
  the service's own network on a caller's behalf); a refused host is one failed attempt, not retried.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from cues.pipelines.store import ObjectStore
from cues.schemas.errors import InvalidRequest, ScoringError, StoreError, StoreNotFound
from cues.schemas.webhook import WebhookAttempt, WebhookDelivery, read_webhook_delivery
from cues.services.api.webhook_targets import WebhookHostUnresolved, WebhookTargetRefused, WebhookTargets

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Cues-Signature"
DELIVERY_HEADER = "Cues-Delivery"  # the same on every retry of one delivery: receivers drop duplicates by it
SECRET_PREFIX = "whsec_"  # recognisable in a leaked log line or a secret scanner's rules
DEFAULT_DELAYS_S = (1, 2, 4, 8, 16, 32)  # seconds before retry 1..6: 63 s in all, then the delivery has failed
MAX_RETRY_AFTER_S = 60  # a receiver's Retry-After is honoured up to this; longer would hold a worker for minutes
_DERIVATION = b"cues webhook signing secret v1\x00"  # domain separation: this key signs nothing else


class WebhookSignatureError(ScoringError):
    """A webhook's signature does not verify: missing, malformed, stale, or not made with this secret."""


# --- signing -------------------------------------------------------------------------------------------------


def _mac(secret: bytes, body: bytes, timestamp: int) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(secret: bytes, body: bytes, timestamp: int) -> str:
    """The ``Cues-Signature`` value for ``body`` sent at ``timestamp`` (unix seconds): ``t=<t>,v1=<hex>``."""
    return f"t={int(timestamp)},v1={_mac(secret, body, int(timestamp))}"


def verify_signature(
    secret: bytes, body: bytes, header: str, *, tolerance_s: int = 300, now: float | None = None
) -> int:
    """Check a ``Cues-Signature`` header against ``body`` (the raw bytes received, before any JSON parsing); returns
    its timestamp. Raises :class:`WebhookSignatureError` when the header is malformed, its timestamp is more than
    ``tolerance_s`` seconds from ``now`` (a replay, or a clock far off), or no ``v1`` MAC matches (constant-time
    compare)."""
    fields: dict[str, list[str]] = {}
    for part in (header or "").split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(name, []).append(value)
    stamps, macs = fields.get("t", []), fields.get("v1", [])
    if len(stamps) != 1 or not stamps[0].isdigit() or not macs:
        raise WebhookSignatureError(
            f"malformed {SIGNATURE_HEADER} header: expected 't=<unix seconds>,v1=<hex HMAC-SHA256>'"
        )
    timestamp = int(stamps[0])
    age = (time.time() if now is None else now) - timestamp
    if abs(age) > tolerance_s:
        raise WebhookSignatureError(
            f"{SIGNATURE_HEADER} timestamp is {abs(age):.0f} s {'old' if age > 0 else 'in the future'}, beyond the "
            f"{tolerance_s} s tolerance: a replayed delivery, or a clock that is off"
        )
    expected = _mac(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, mac) for mac in macs):
        raise WebhookSignatureError(
            f"{SIGNATURE_HEADER} does not match the body: it was changed, or signed with another secret"
        )
    return timestamp


# --- secrets -------------------------------------------------------------------------------------------------


def webhook_secret(service_secret: bytes, token_name: str) -> bytes:
    """The signing secret of the caller ``token_name``: ``whsec_`` + 64 hex, as ASCII bytes (a client uses the
    printed text's bytes as its HMAC key). An HMAC of the name under the service secret: knowing one caller's
    secret tells nothing about another's, and nothing per caller needs storing."""
    if len(service_secret) < 16:
        raise InvalidRequest("the webhook service secret is shorter than 16 bytes; delete its file to make a new one")
    derived = hmac.new(service_secret, _DERIVATION + token_name.encode(), hashlib.sha256).hexdigest()
    return (SECRET_PREFIX + derived).encode()


def read_service_secret(path: Path, *, create: bool = True) -> bytes:
    """The service's webhook secret from ``path`` (64 hex characters); with ``create``, a missing file is made with
    a new random secret, readable by its owner only (0600). Replacing the file changes every caller's secret."""
    path = Path(path)
    if not path.exists() and create:
        _create_secret_file(path)
    try:
        text = path.read_text(encoding="ascii").strip()
        secret = bytes.fromhex(text)
    except FileNotFoundError:
        raise InvalidRequest(f"no webhook secret file {path}; `cues serve` makes one") from None
    except (OSError, UnicodeDecodeError, ValueError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not hex"
        raise InvalidRequest(f"{path}: not a webhook secret file ({reason}); delete it to make a new one") from None
    if len(secret) < 16:
        raise InvalidRequest(f"{path}: the webhook secret is shorter than 16 bytes; delete it to make a new one")
    return secret


def _create_secret_file(path: Path) -> None:
    """A new secret, written whole with mode 0600 from the start, and never over a file another process made first
    (``os.link`` fails if the name exists)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")  # mkstemp: mode 0600
    try:
        with os.fdopen(handle, "w", encoding="ascii") as file:
            file.write(secrets.token_hex(32) + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first: use theirs
    finally:
        Path(temporary).unlink(missing_ok=True)


# --- delivery ------------------------------------------------------------------------------------------------


def webhook_key(batch_id: str) -> str:
    return f"api/batches/{batch_id}/webhook.json"


def read_delivery(store: ObjectStore, batch_id: str) -> WebhookDelivery | None:
    """The batch's webhook record, or None when none was written."""
    key = webhook_key(batch_id)
    try:
        return read_webhook_delivery(store.get_bytes(key), store.uri_for(key))
    except StoreNotFound:
        return None


def deliver_batch_webhook(
    store: ObjectStore,
    batch_id: str,
    url: str,
    summary: dict,
    secret: bytes,
    *,
    delays_s: Sequence[float] = DEFAULT_DELAYS_S,
    timeout_s: float = 10,
    sleep: Callable[[float], None] = time.sleep,
    targets: WebhookTargets = WebhookTargets(),
) -> WebhookDelivery:
    """POST ``summary`` (JSON) to ``url``, signed with ``secret``; retry after each of ``delays_s`` (seconds) on no
    answer (a host that does not resolve included), 5xx or 429; stop on any other non-2xx, and on a host that
    ``targets`` refuses (``webhook_targets.py``: it is checked before each attempt, and the POST goes to the
    address checked). Blocks until delivered or given up; every attempt is recorded in
    ``api/batches/<batch-id>/webhook.json``. Returns the record. A record already delivered to ``url`` is returned
    as it is, without a POST."""
    scheme = urlsplit(url).scheme
    if scheme not in ("http", "https"):
        raise InvalidRequest(f"webhook URL {url!r}: use http:// or https://")
    previous = _read_quietly(store, batch_id)
    if previous is not None and previous.delivered and previous.url == url:
        return previous
    attempts = list(previous.attempts) if previous is not None and previous.url == url else []
    body = json.dumps(summary, sort_keys=True, separators=(",", ":")).encode()
    delivery_id = hashlib.sha256(batch_id.encode() + b"\0" + url.encode() + b"\0" + body).hexdigest()[:32]
    host = urlsplit(url).hostname or "?"
    record = WebhookDelivery(batch_id=batch_id, url=url, state="pending", delivered=False, attempts=tuple(attempts))
    with httpx.Client(timeout=timeout_s, follow_redirects=False) as client:
        for number in range(len(delays_s) + 1):
            attempt, retry_after, refused = _attempt(client, url, targets, body, secret, batch_id, delivery_id)
            attempts.append(attempt)
            ok = attempt.status is not None and 200 <= attempt.status < 300
            retryable = not refused and (attempt.status is None or attempt.status == 429 or attempt.status >= 500)
            final = ok or not retryable or number == len(delays_s)
            state = "delivered" if ok else "failed" if final else "pending"
            record = record.model_copy(update={"state": state, "delivered": ok, "attempts": tuple(attempts)})
            _record(store, record)
            outcome = attempt.status if attempt.status is not None else attempt.error
            if final:
                level = logging.INFO if ok else logging.WARNING
                log.log(level, "webhook of batch %s to %s: %s after %d attempt(s)", batch_id, host, state,
                        len(attempts))
                return record
            wait = delays_s[number]
            if retry_after is not None and wait < retry_after <= MAX_RETRY_AFTER_S:
                wait = retry_after
            log.info("webhook of batch %s to %s: %s; retrying in %g s", batch_id, host, outcome, wait)
            sleep(wait)
    return record  # not reached: the loop's last attempt is final


def _attempt(
    client: httpx.Client,
    url: str,
    targets: WebhookTargets,
    body: bytes,
    secret: bytes,
    batch_id: str,
    delivery_id: str,
) -> tuple[WebhookAttempt, float | None, bool]:
    """One signed POST to the address of ``url``'s host that ``targets`` checked: its record, the receiver's
    ``Retry-After`` in seconds if it gave one, and whether the host was refused (then nothing was sent)."""
    started = datetime.now(UTC).isoformat(timespec="milliseconds")
    clock = time.perf_counter()
    try:
        address_url, host_headers, extensions = targets.pinned(url)
    except (WebhookTargetRefused, WebhookHostUnresolved) as error:
        refused = isinstance(error, WebhookTargetRefused)
        elapsed = (time.perf_counter() - clock) * 1000
        reason = f"{type(error).__name__}: {error}"[:300]
        return WebhookAttempt(at=started, error=reason, duration_ms=round(elapsed, 1)), None, refused
    headers = {
        **host_headers,
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secret, body, int(time.time())),
        DELIVERY_HEADER: delivery_id,
        "Cues-Batch-Id": batch_id,
        "User-Agent": "cues-webhook/1",
    }
    try:
        response = client.post(address_url, content=body, headers=headers, extensions=extensions)
    except httpx.HTTPError as error:
        elapsed = (time.perf_counter() - clock) * 1000
        return WebhookAttempt(at=started, error=_reason(error), duration_ms=round(elapsed, 1)), None, False
    elapsed = (time.perf_counter() - clock) * 1000
    retry_after = response.headers.get("retry-after", "")
    seconds = float(retry_after) if retry_after.isdigit() else None
    return WebhookAttempt(at=started, status=response.status_code, duration_ms=round(elapsed, 1)), seconds, False


def _reason(error: httpx.HTTPError) -> str:
    """Why no answer came, in a few words (the exception's class and text; never the request's headers)."""
    text = str(error).strip()
    return f"{type(error).__name__}: {text}"[:300] if text else type(error).__name__


def _read_quietly(store: ObjectStore, batch_id: str) -> WebhookDelivery | None:
    try:
        return read_delivery(store, batch_id)
    except (StoreError, InvalidRequest) as error:
        log.warning("webhook record of batch %s unreadable, starting afresh: %s", batch_id, error)
        return None


def _record(store: ObjectStore, record: WebhookDelivery) -> None:
    try:
        store.put_bytes(webhook_key(record.batch_id), record.model_dump_json(indent=2).encode(),
                        content_type="application/json")
    except StoreError as error:
        log.warning("could not record webhook attempt %d of batch %s: %s", len(record.attempts), record.batch_id,
                    error)
