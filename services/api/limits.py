"""Per-token rate limits: a token bucket for each caller, refilled at its ``requests_per_minute``.

A caller may spend a minute's worth of requests at once (the bucket holds ``requests_per_minute``), then one every
``60 / requests_per_minute`` seconds; a request that finds the bucket empty gets 429 with ``Retry-After`` (whole
seconds until a request is allowed again) and the one error body.

Decisions where the contract is silent: the buckets are in the service's memory, per replica (a restart gives every
caller a full bucket; two replicas would allow twice the rate). Health checks are never limited.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

from fastapi import Depends, Request

from cues.schemas.api_tokens import ApiToken
from cues.services.api.auth import caller
from cues.services.api.errors import ApiError


@dataclass
class TokenBucket:
    """``capacity`` requests, refilled at ``rate`` requests per second; ``tokens`` and ``stamp`` are its state."""

    capacity: float
    rate: float
    tokens: float
    stamp: float

    def take(self, now: float) -> float:
        """Spend one request; 0 if allowed, else the seconds until one would be."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class RateLimits:
    """Every caller's bucket, by token name, sized by its token's ``requests_per_minute``."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def check(self, token: ApiToken) -> None:
        """Spend one of ``token``'s requests, or raise 429 saying when to try again."""
        per_minute = token.requests_per_minute
        with self._lock:
            now = self._clock()
            bucket = self._buckets.get(token.name)
            if bucket is None or bucket.capacity != per_minute:  # a changed tokens file takes effect at once
                bucket = self._buckets[token.name] = TokenBucket(per_minute, per_minute / 60, per_minute, now)
            wait = bucket.take(now)
        if wait:
            retry = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"token {token.name!r} may make {per_minute} requests a minute; try again in {retry} s",
                headers={"Retry-After": str(retry)},
            )


async def limited_caller(request: Request, token: ApiToken = Depends(caller)) -> ApiToken:
    """FastAPI dependency: :func:`~cues.services.api.auth.caller`, then one request from its rate limit (async
    like it: the bucket's lock is held for microseconds)."""
    request.app.state.limits.check(token)
    return token
