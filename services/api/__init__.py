"""The HTTP API (``cues serve``): briefs in over HTTP, batches to poll or a webhook, files out, on Ray Serve.

The contract is docs/contracts/api-v1.md. Every error body has one shape (:mod:`.errors`); every route but the
health checks needs a bearer token (:mod:`.auth`).
"""
