"""The ``Server-Timing`` header (W3C Server Timing): how long the service held a request, and a route's own parts.

Every answer carries ``app;dur=<ms>`` (the app's time, from the access-log middleware's start to the response); a
route may add its parts with :class:`ServerTiming` (``POST /v1/batches``: ``wait`` for a thread of the pool,
``check`` for reading and checking the briefs, ``store`` for the store's writes). A client compares them with the
time it saw: the rest is Serve's proxy, the transport and its own queueing (``bench/api_load.py`` reports the split).
Only durations go out: no names, ids or paths.
"""

from __future__ import annotations

import time


class ServerTiming:
    """A request's parts, in milliseconds, each from the end of the one before (the first from construction)."""

    def __init__(self) -> None:
        self.parts: dict[str, float] = {}
        self._mark = time.perf_counter()

    def lap(self, name: str) -> None:
        """Close the part ``name`` now; the next one starts here."""
        now = time.perf_counter()
        self.parts[name] = (now - self._mark) * 1000
        self._mark = now


def server_timing_header(app_ms: float, timing: ServerTiming | None) -> str:
    """``app;dur=12.3, wait;dur=0.4, …``: the app's milliseconds, then the route's parts in the order measured."""
    parts = {"app": app_ms, **(timing.parts if timing else {})}
    return ", ".join(f"{name};dur={ms:.1f}" for name, ms in parts.items())
