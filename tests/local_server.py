"""An ASGI app served over real HTTP for a test: uvicorn on a free port of 127.0.0.1, in a thread of the test."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from tests.conftest import free_port


@contextmanager
def serving(app, **config) -> Iterator[str]:
    """``app`` under uvicorn (``config``: more of ``uvicorn.Config``'s options, e.g. ``lifespan="off"``) until the
    block ends; yields its base URL. The app's lifespan (a batch runner, say) starts before and ends after."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", **config))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start within 10 s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
