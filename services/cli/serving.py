"""``cues serve``: the HTTP API (issue 19) on Ray Serve, until Ctrl-C."""

from __future__ import annotations

import signal
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Annotated

import typer

from cues.pipelines.ray_runtime import init_ray, shutdown_ray
from cues.schemas.config import DEFAULT_STORE, RenderConfig
from cues.services.api.settings import ApiSettings
from cues.services.cli.options import Models, RayAddress, Soundfont, Store, WorkerCpus, Workers
from cues.services.cli.output import err, out, reported_errors

commands = typer.Typer()

TokensFile = Annotated[
    Path, typer.Option("--tokens", envvar="CUES_TOKENS_FILE", help="The tokens file (hashes only; cues token add).")
]
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
_DEFAULTS = {name: field.default for name, field in ApiSettings.model_fields.items()}  # one source: the settings
READY_TIMEOUT_S = 300.0  # the warm workers load the models and the synth; a busy 2-core machine takes about 30 s


@commands.command()
def serve(
    store: Store = DEFAULT_STORE,
    tokens: TokensFile = _DEFAULTS["tokens_file"],
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")] = _DEFAULTS["host"],
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = _DEFAULTS["port"],
    ray_address: RayAddress = None,
    workers: Workers = None,
    worker_cpus: WorkerCpus = _DEFAULTS["worker_cpus"],
    webhook_secret: Annotated[
        Path | None,
        typer.Option(
            "--webhook-secret",
            envvar="CUES_WEBHOOK_SECRET_FILE",
            help="The service's webhook signing secret file (made, mode 0600, if missing); without it, batches "
            "cannot name a webhook_url.",
            show_default=False,
        ),
    ] = None,
    webhook_networks: Annotated[
        list[str] | None,
        typer.Option(
            "--webhook-network",
            help="A network (CIDR) webhooks may be sent to besides public addresses; repeat for more. Default: this "
            "machine's loopback (127.0.0.0/8, ::1/128); 'none': public addresses only.",
            show_default=False,
        ),
    ] = None,
    model: Models = None,
    soundfont: Soundfont = None,
) -> None:
    """Serve the HTTP API on Ray Serve: briefs in (POST /v1/batches), batch status, cues' manifests, plans and
    files out, bearer tokens and per-token limits; the OpenAPI document at /docs. Starts a local Ray (or joins
    --ray-address / RAY_ADDRESS), keeps warm cue workers, resumes every accepted batch that had not finished, and
    runs until Ctrl-C, then stops Serve. Refuses to start with no token in --tokens.

    Example: cues serve --store s3://acme-music/cues --tokens /etc/cues/tokens.yaml --host 0.0.0.0 --port 8000
    """
    from cues.services.api.app import deploy, require_tokens, undeploy  # Ray Serve and the job: only when served

    with reported_errors():
        networks = {} if webhook_networks is None else {
            "webhook_networks": [n for n in webhook_networks if n.lower() != "none"]}
        settings = ApiSettings(
            store=store, tokens_file=tokens, webhook_secret_file=webhook_secret, host=host, port=port,
            workers=workers, worker_cpus=worker_cpus, models=model, render=RenderConfig(soundfont=soundfont),
            **networks,
        )
        require_tokens(settings)  # before Ray starts: a service nobody may call is refused at once
        stop = threading.Event()  # Ctrl-C or SIGTERM, whenever it comes: then Serve and Ray are stopped in order
        previous = {number: signal.signal(number, lambda *_: stop.set()) for number in STOP_SIGNALS}
        try:
            init_ray(ray_address)
            url = deploy(settings)
            out.print(f"cues API at {url}  (OpenAPI: {url}/docs, {url}/openapi.json)", markup=False)
            _wait_ready(url, stop)
            stop.wait()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
            err.print("stopping the service", markup=False)
            undeploy()
            shutdown_ray()


def _wait_ready(url: str, stop: threading.Event) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline and not stop.is_set():
        try:
            urllib.request.urlopen(f"{url}/readyz", timeout=5).close()
            err.print("ready: warm cue workers loaded", markup=False)
            return
        except (urllib.error.URLError, OSError):
            stop.wait(1)
    if not stop.is_set():
        err.print(f"not ready after {READY_TIMEOUT_S:g} s: GET {url}/readyz says why", markup=False)
