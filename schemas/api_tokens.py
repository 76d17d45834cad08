"""The API's tokens file: who may call ``cues serve``, and how much.

Only a SHA-256 of each token is kept (``cues token add`` prints the token once), so the file can sit in a config
map or a repository without handing out access. Limits are per token because one studio's build farm must not starve
a supervisor's audition page.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

_HEX64 = re.compile(r"^[0-9a-f]{64}$")


class ApiToken(BaseModel):
    """One caller: a name for the logs, the hash of its bearer token, its limits."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    sha256: str = Field(description="hex SHA-256 of the token (never the token itself)")
    requests_per_minute: int = Field(default=120, ge=1, le=100_000)
    max_batch_cues: int = Field(default=50, ge=1, le=10_000, description="cues one batch may expand to")

    @field_validator("sha256")
    @classmethod
    def _is_hex_digest(cls, value: str) -> str:
        if not _HEX64.match(value):
            raise ValueError("sha256 must be 64 lower-case hex digits (cues token add writes it)")
        return value


class TokenFile(BaseModel):
    """``tokens.yaml``: ``tokens: [{name, sha256, requests_per_minute, max_batch_cues}, ...]``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tokens: tuple[ApiToken, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> TokenFile:
        names = [token.name for token in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("token names must be unique")
        if len({token.sha256 for token in self.tokens}) != len(self.tokens):
            raise ValueError("two entries hold the same token hash")
        return self
