"""The service's app (``create_app``), its Ray Serve ingress (:class:`ApiIngress`), and :func:`deploy`, which runs it
on the connected Ray behind Serve's HTTP proxy.

``create_app`` builds a FastAPI app over one store: ``app.state.store`` (the opened store), ``app.state.tokens``
(who may call), ``app.state.settings``, ``app.state.limits`` (rate limits), ``app.state.targets`` (where webhooks
may go) and ``app.state.runner`` (the batch runner, started with the app and resuming every unfinished batch). The
routes are in ``batch_routes``, ``cue_routes``, and the other engineers' ``review_routes`` and ``audition_routes``.

Access log: one JSON line per request on the ``cues.api.access`` logger: method, path (never the query string, which
may hold a presigned signature), status, milliseconds, and the caller's token name (never the token). The same
milliseconds go back in a ``Server-Timing`` header (``server_timing``).
"""

from __future__ import annotations

import json
import logging
import time
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from ray import serve

from cues.pipelines.store import open_store
from cues.schemas.api_batch import BatchRequest, BatchStatus, WebhookStatus
from cues.schemas.errors import IntegrityError, InvalidRequest, RuntimeSetupError, StoreError, StoreNotFound
from cues.services.api import audition_routes, batch_routes, cue_routes, review_routes
from cues.services.api.auth import TokenBook
from cues.services.api.batch_records import write_status
from cues.services.api.errors import ApiError, install_error_handlers
from cues.services.api.limits import RateLimits
from cues.services.api.runner import BatchRunner
from cues.services.api.server_timing import server_timing_header
from cues.services.api.settings import ApiSettings
from cues.services.api.webhook_targets import WebhookTargets
from cues.services.api.webhooks import deliver_batch_webhook, read_service_secret, webhook_secret

log = logging.getLogger(__name__)
access_log = logging.getLogger("cues.api.access")

API_NAME = "cues-api"  # the Serve application's and deployment's name
VERSION = "1"


def create_app(settings: ApiSettings) -> FastAPI:
    """The API over the store of ``settings``; its lifespan starts the batch runner (resuming unfinished batches)
    and stops it. Raises :class:`RuntimeSetupError` when the tokens file names no caller."""
    tokens = require_tokens(settings)
    store = open_store(settings.store)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.runner.start()
        yield
        app.state.runner.stop()

    app = FastAPI(title="cues", version=VERSION, lifespan=lifespan,
                  description="Briefs in over HTTP; batches to poll or a webhook; cues' files out.")
    app.state.settings, app.state.store, app.state.tokens = settings, store, tokens
    app.state.limits = RateLimits()
    app.state.targets = WebhookTargets.allowing(settings.webhook_networks)
    app.state.runner = BatchRunner(store, settings, announcer(store, settings))
    install_error_handlers(app)
    _install_store_errors(app)
    app.add_middleware(AccessLog)
    app.get("/healthz", tags=["health"])(healthz)
    app.get("/readyz", tags=["health"])(readyz)
    app.include_router(batch_routes.router)
    app.include_router(cue_routes.router)
    app.include_router(review_routes.router)
    app.include_router(audition_routes.router)
    return app


def require_tokens(settings: ApiSettings) -> TokenBook:
    """The callers of the tokens file; :class:`RuntimeSetupError` when it names none."""
    tokens = TokenBook.read(settings.tokens_file)
    if not tokens.tokens.tokens:  # a service nobody may call is a mistake, not a locked door
        raise RuntimeSetupError(
            f"{settings.tokens_file} holds no tokens: `cues token add NAME --tokens {settings.tokens_file}` makes one"
        )
    return tokens


def healthz() -> dict:
    """Alive: the process answers (no store, no workers asked)."""
    return {"status": "ok"}


def readyz(request: Request) -> JSONResponse:
    """Ready: the store answers and the warm workers have started; 503 saying which is not, otherwise."""
    app = request.app
    problems = []
    try:
        app.state.store.exists("api/ready")
    except StoreError as err:
        problems.append(f"store: {err}")
    runner = app.state.runner
    if not runner.ready.is_set():
        problems.append(runner.failure or "workers: starting (loading the models and the synth)")
    if problems:
        return ApiError(503, "not_ready", "; ".join(problems)).response()
    return JSONResponse({"status": "ready", "batch_running": runner.current})



class AccessLog:
    """ASGI middleware: the access log line and the ``Server-Timing`` header of every HTTP request, timed to the
    start of the answer. Plain ASGI rather than ``@app.middleware("http")``, whose extra task and stream per
    request showed in the profile of 20 POSTs at once."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        state = scope.setdefault("state", {})  # what the routes put in request.state: caller, timing
        answer = {"status": 500, "ms": None}

        async def timed_send(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["ms"] = round((time.perf_counter() - started) * 1000, 1)
                header = server_timing_header(answer["ms"], state.get("timing"))
                message = {**message, "headers": [*message.get("headers", []), (b"server-timing", header.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            line = {
                "method": scope["method"],
                "path": scope["path"],
                "status": answer["status"],
                "ms": answer["ms"] if answer["ms"] is not None else round((time.perf_counter() - started) * 1000, 1),
                "caller": state.get("caller"),
            }
            access_log.info(json.dumps(line))


def _install_store_errors(app: FastAPI) -> None:
    """The store's and the library's errors in the one error body: a missing object is 404, a damaged one 409, a
    store that does not answer 503, a refused request 422."""

    def answer(status: int, code: str):
        async def handler(_request, error: Exception) -> JSONResponse:
            return ApiError(status, code, str(error)).response()

        return handler

    app.add_exception_handler(StoreNotFound, answer(404, "not_found"))
    app.add_exception_handler(IntegrityError, answer(409, "store_damaged"))
    app.add_exception_handler(StoreError, answer(503, "store_unavailable"))
    app.add_exception_handler(InvalidRequest, answer(422, "invalid_request"))


def announcer(store, settings: ApiSettings):
    """The runner's call when a batch with a webhook ends: the signed POST (``webhooks.deliver_batch_webhook``), then
    its outcome in the batch's status. None when this service sends no webhooks."""
    if settings.webhook_secret_file is None:
        return None
    service_secret = read_service_secret(settings.webhook_secret_file)
    targets = WebhookTargets.allowing(settings.webhook_networks)

    def announce(request: BatchRequest, status: BatchStatus) -> None:
        secret = webhook_secret(service_secret, request.caller)
        summary = status.model_dump(mode="json")
        delivery = deliver_batch_webhook(store, request.batch_id, request.webhook_url, summary, secret, targets=targets)
        try:
            write_status(store, status.model_copy(update={"webhook": WebhookStatus(**delivery.summary())}))
        except StoreError as err:
            log.warning("could not record the webhook of batch %s: %s", request.batch_id, err)

    return announce


@serve.deployment(name=API_NAME, ray_actor_options={"num_cpus": 0}, max_ongoing_requests=64)
@serve.ingress()
class ApiIngress:
    """The Serve replica: the app of :func:`create_app`, built in the replica from its settings. It asks Ray for no
    CPU (it waits on the store and the workers; the cue workers hold the CPUs)."""

    def __init__(self, settings: dict):
        self.settings = ApiSettings.model_validate(settings)

    def __serve_build_asgi_app__(self) -> FastAPI:
        return create_app(self.settings)


def deploy(settings: ApiSettings) -> str:
    """Run the service on the connected Ray: Serve's HTTP proxy on ``settings.host``:``settings.port`` and the app
    at ``/``; returns the base URL. Raises :class:`RuntimeSetupError` when the tokens file has no caller (checked
    here first: a replica that fails to start would only be retried by Serve)."""
    require_tokens(settings)
    secret = settings.webhook_secret_file
    settings = settings.model_copy(update={  # the replica's working folder is not this one
        "store": open_store(settings.store).uri,
        "tokens_file": settings.tokens_file.resolve(),
        "webhook_secret_file": secret.resolve() if secret else None,
    })
    serve.start(http_options={"host": settings.host, "port": settings.port})
    serve.run(ApiIngress.bind(settings.model_dump(mode="json")), name=API_NAME, route_prefix="/")
    return f"http://{settings.host}:{settings.port}"


def app_builder(args: dict) -> serve.Application:
    """The service for a Serve config file, as KubeRay's RayService deploys it (infra/k8s/rayservice.yaml:
    ``import_path: cues.services.api.app:app_builder``): ``args`` are :class:`ApiSettings` fields (``store``,
    ``tokens_file``, ``webhook_secret_file``, ``workers``, ``worker_cpus``…; a misspelt one is refused), the address
    and port are the config's ``http_options``. The tokens file is checked here, as :func:`deploy` does."""
    settings = ApiSettings.model_validate(args)
    require_tokens(settings)
    return ApiIngress.bind(settings.model_dump(mode="json"))


def undeploy() -> None:
    """Stop the service and Serve's proxy on the connected Ray (the cue workers the service owned end with it)."""
    serve.shutdown()

