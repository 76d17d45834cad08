"""Starting or joining Ray: the one place every pipeline gets its Ray from, and the only one with ``ray.init``.

``RAY_ADDRESS`` (or an explicit address) joins a cluster; otherwise a local instance is started, sized for this
machine, with an explicit object store size (Ray's default of 30 % of RAM is too greedy beside PyTorch), usage
statistics off and no dashboard unless asked for (Ray Jobs need it).
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading

from cues.schemas.errors import RuntimeSetupError

log = logging.getLogger(__name__)

MIN_OBJECT_STORE = 200 * 1024**2  # bytes; what a small Data pipeline needs on a 2-core CI box
MAX_OBJECT_STORE = 2 * 1024**3  # bytes; cue audio is small, and the rest of RAM is for PyTorch and FluidSynth
CONNECT_TIMEOUT = 5.0  # seconds to wait for a TCP answer from a cluster address before giving up
_CLUSTER_HINT = "check RAY_ADDRESS / --ray-address and that the cluster is up"

_started_local: bool | None = None  # whether init_ray started the instance this process uses (None: not ours)


def default_object_store_memory() -> int:
    """A quarter of physical memory, between 200 MiB and 2 GiB (bytes)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 4 * 1024**3  # platforms without sysconf: assume a small machine
    return max(MIN_OBJECT_STORE, min(total // 4, MAX_OBJECT_STORE))


def init_ray(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    dashboard: bool = False,
    log_to_driver: bool = False,
) -> dict:
    """Make sure this process is connected to Ray; returns :func:`describe`'s ``{"address", "local", "cpus"}``.

    ``address`` (else ``RAY_ADDRESS``) is ``host:port`` of a cluster's GCS, ``ray://host:10001`` or ``auto``;
    without one a local instance starts with ``num_cpus`` (default: all of this machine's) and
    ``object_store_memory`` bytes (default :func:`default_object_store_memory`), which a cluster ignores.
    ``log_to_driver`` forwards the workers' stdout/stderr to this process.

    Idempotent: when Ray is already initialised, it is left as it is and described.
    Raises :class:`RuntimeSetupError` when the cluster cannot be reached or a local instance cannot start.
    """
    global _started_local
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # before import: Ray reads it when it starts
    import ray

    if ray.is_initialized():
        return describe()
    address = address or os.environ.get("RAY_ADDRESS") or None
    sigterm = signal.getsignal(signal.SIGTERM)  # the process's own, which ray.init replaces
    try:
        if address:
            if num_cpus or object_store_memory:
                log.warning("joining the Ray cluster at %s: num_cpus and object_store_memory are ignored", address)
            _check_reachable(address)
            ray.init(address=address, log_to_driver=log_to_driver, logging_level=logging.WARNING)
        else:
            # Ray ≥ 2.59 turns token auth on for local instances too; it protects clusters, not a run on one machine.
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")
            ray.init(
                num_cpus=num_cpus or os.cpu_count(),
                object_store_memory=object_store_memory or default_object_store_memory(),
                include_dashboard=dashboard,
                log_to_driver=log_to_driver,
                logging_level=logging.WARNING,
            )
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as err:
        _restore_sigterm(sigterm)
        if address:
            raise RuntimeSetupError(f"cannot join the Ray cluster at {address}: {err}; {_CLUSTER_HINT}") from None
        raise RuntimeSetupError(
            f"cannot start a local Ray instance: {err}; see /tmp/ray/session_latest/logs, and check free memory "
            "and /dev/shm"
        ) from None
    _restore_sigterm(sigterm)
    _started_local = not address or address.startswith("local")
    info = describe()
    log.info("Ray ready: %s", info)
    return info


def _restore_sigterm(before) -> None:
    """Undo ``ray.init``'s SIGTERM handling: it installs a Python handler (``sys.exit(15)``), then its C++ failure
    handler over it, which dumps a native stack trace and aborts (exit 134). Put back the process's own handler if
    it had one (the CLI's: one line, exit 143), else Ray's Python one, so that ``finally`` blocks and atexit run."""
    if threading.current_thread() is not threading.main_thread():
        return  # Python sets signal handlers from the main thread only
    handler = before if callable(before) else signal.getsignal(signal.SIGTERM)
    if handler is not None:
        signal.signal(signal.SIGTERM, handler)


def _check_reachable(address: str, timeout: float = CONNECT_TIMEOUT) -> None:
    """Fail fast on a dead address: Ray itself keeps retrying a missing GCS for a minute or more."""
    if address == "auto" or address.startswith("local"):
        return  # Ray finds these itself, on this machine
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    host = host.strip("[]")  # IPv6: [::1]:6379
    if not host or not port.isdigit():
        raise RuntimeSetupError(f"bad Ray address {address!r}; use host:port, ray://host:port or auto")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise RuntimeSetupError(
            f"cannot reach the Ray cluster at {address}: {err.strerror or err}; {_CLUSTER_HINT}"
        ) from None


def describe() -> dict:
    """``address`` of the GCS, ``local`` (this process started the instance), ``cpus`` and ``memory`` (bytes Ray
    schedules tasks and actors by, object store excluded) in the cluster."""
    import ray

    local = _started_local if _started_local is not None else not os.environ.get("RAY_ADDRESS")
    resources = ray.cluster_resources()
    return {
        "address": ray.get_runtime_context().gcs_address,
        "local": local,
        "cpus": int(resources.get("CPU", 0)),
        "memory": float(resources.get("memory", 0.0)),
    }


def shutdown_ray() -> None:
    """Disconnect from Ray (which stops a local instance this process started)."""
    global _started_local
    import ray

    if ray.is_initialized():
        ray.shutdown()
    _started_local = None
