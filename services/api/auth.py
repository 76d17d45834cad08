"""Bearer tokens: ``Authorization: Bearer <token>`` on every route but the health checks.

The tokens file (:class:`~cues.schemas.api_tokens.TokenFile`) holds SHA-256 hashes only; a presented token is
hashed and compared with every entry in constant time, so neither the file nor the timing of a refusal gives a
token away. ``cues token add`` makes a token, prints it once and stores its hash; ``cues token revoke`` removes
one, and a running service follows the file (:class:`TokenBook`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
import tempfile
import time
from pathlib import Path

import yaml
from fastapi import Request
from pydantic import ValidationError

from cues.schemas.api_tokens import ApiToken, TokenFile
from cues.schemas.errors import InvalidRequest
from cues.services.api.errors import ApiError

TOKEN_PREFIX = "cues_"  # recognisable in a leaked log line or a secret scanner's rules
RELOAD_CHECK_S = 1.0  # a revoked token is refused this long after the file changes, at most
log = logging.getLogger(__name__)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class TokenBook:
    """The callers the service accepts, looked up by the hash of what a request presents.

    Read from a file (:meth:`read`), the book follows it: at most every ``check_interval_s`` seconds a lookup
    looks at the file's size, modification time and inode, and reads it again when they changed, so a token added
    or revoked (``cues token add``/``revoke``, an edited file, a Kubernetes secret updated in place) counts from
    then on without a restart. A file that became unreadable or invalid is logged and the book keeps the callers it
    had: one bad edit must not lock every studio out (revoke by a valid edit). A file that was removed holds no
    callers: every request is refused until it is back."""

    def __init__(self, tokens: TokenFile, path: Path | None = None, check_interval_s: float = RELOAD_CHECK_S):
        self.tokens = tokens
        self._path, self._check_interval_s = path, check_interval_s
        self._seen = _file_signature(path) if path is not None else None
        self._checked = time.monotonic()

    @classmethod
    def read(cls, path: Path, check_interval_s: float = RELOAD_CHECK_S) -> TokenBook:
        return cls(read_token_file(path), path, check_interval_s)

    def find(self, presented: str) -> ApiToken | None:
        self._follow_file()
        digest = hash_token(presented)
        found = None
        for token in self.tokens.tokens:  # no early exit: every refusal costs the same
            if hmac.compare_digest(token.sha256, digest):
                found = token
        return found

    def _follow_file(self) -> None:
        now = time.monotonic()
        if self._path is None or now - self._checked < self._check_interval_s:
            return
        self._checked = now
        signature = _file_signature(self._path)
        if signature == self._seen:
            return
        try:
            tokens = read_token_file(self._path)
        except InvalidRequest as error:
            log.error("tokens file changed but cannot be read; the %d callers read before still count: %s",
                      len(self.tokens.tokens), error)
            return  # _seen stays: the next check reads it again
        self._seen = signature
        before, after = {t.name for t in self.tokens.tokens}, {t.name for t in tokens.tokens}
        self.tokens = tokens
        log.info("tokens file %s read again: %d callers (added %s; removed %s)", self._path, len(after),
                 sorted(after - before) or "none", sorted(before - after) or "none")


def _file_signature(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is rewritten, replaced or removed: (inode, size, mtime in ns); None if absent."""
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def read_token_file(path: Path) -> TokenFile:
    """The tokens file, or a :class:`InvalidRequest` naming the file and the problem; a missing file is empty."""
    if not path.exists():
        return TokenFile()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return TokenFile.model_validate(data)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, ValidationError) as error:
        raise InvalidRequest(f"{path}: not a valid tokens file: {error}") from error


def add_token(path: Path, name: str, *, requests_per_minute: int | None = None,
              max_batch_cues: int | None = None) -> str:
    """A new token for ``name``, its hash appended to the file (written whole: a temp file, then a rename).
    Returns the token itself, which is stored nowhere."""
    existing = read_token_file(path)
    if any(token.name == name for token in existing.tokens):
        raise InvalidRequest(f"{path}: a token named {name!r} exists; remove its entry first or pick another name")
    token = new_token()
    limits = {"requests_per_minute": requests_per_minute, "max_batch_cues": max_batch_cues}
    entry = ApiToken(name=name, sha256=hash_token(token), **{k: v for k, v in limits.items() if v is not None})
    updated = TokenFile(tokens=(*existing.tokens, entry))
    _write_tokens(path, updated)
    return token


def revoke_token(path: Path, name: str) -> None:
    """Remove ``name``'s token from the file (written whole); a running service refuses it within
    ``RELOAD_CHECK_S`` seconds."""
    existing = read_token_file(path)
    if not any(token.name == name for token in existing.tokens):
        known = ", ".join(token.name for token in existing.tokens) or "none"
        raise InvalidRequest(f"{path} has no token named {name!r} (it has: {known})")
    updated = TokenFile(tokens=tuple(token for token in existing.tokens if token.name != name))
    _write_tokens(path, updated)


def _write_tokens(path: Path, tokens: TokenFile) -> None:
    _write_whole(path, yaml.safe_dump(tokens.model_dump(mode="json"), sort_keys=False))


def _write_whole(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.tmp-")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


async def caller(request: Request) -> ApiToken:
    """FastAPI dependency: the token a request carries, or 401. The app keeps its :class:`TokenBook` in
    ``app.state.tokens``. Async because it never waits: a plain function would be sent to the thread pool, a hop
    that costs more than the hashing does once 20 requests share the GIL."""
    header = request.headers.get("authorization", "")
    scheme, _, presented = header.partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="cues"'}
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiError(401, "unauthorized", "send 'Authorization: Bearer <token>' (cues token add makes one)",
                       headers=challenge)
    token = request.app.state.tokens.find(presented.strip())
    if token is None:
        raise ApiError(401, "unauthorized", "the bearer token is not known to this service", headers=challenge)
    request.state.caller = token.name  # for the access log: the caller's name, never the token
    return token
