"""Bearer tokens: ``Authorization: Bearer <token>`` on every route but the health checks.

The tokens file (:class:`~cues.schemas.api_tokens.TokenFile`) holds SHA-256 hashes only; a presented token is
hashed and compared with every entry in constant time, so neither the file nor the timing of a refusal gives a
token away. ``cues token add`` makes a token, prints it once and stores its hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import tempfile
from pathlib import Path

import yaml
from fastapi import Request
from pydantic import ValidationError

from cues.schemas.api_tokens import ApiToken, TokenFile
from cues.schemas.errors import InvalidRequest
from cues.services.api.errors import ApiError

TOKEN_PREFIX = "cues_"  # recognisable in a leaked log line or a secret scanner's rules


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class TokenBook:
    """The callers the service accepts, looked up by the hash of what a request presents."""

    def __init__(self, tokens: TokenFile):
        self.tokens = tokens

    @classmethod
    def read(cls, path: Path) -> TokenBook:
        return cls(read_token_file(path))

    def find(self, presented: str) -> ApiToken | None:
        digest = hash_token(presented)
        found = None
        for token in self.tokens.tokens:  # no early exit: every refusal costs the same
            if hmac.compare_digest(token.sha256, digest):
                found = token
        return found


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
    _write_whole(path, yaml.safe_dump(updated.model_dump(mode="json"), sort_keys=False))
    return token


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
