"""Starting or joining Ray: the one place every pipeline gets its Ray from.

``RAY_ADDRESS`` (or an explicit address) joins a cluster; otherwise a local instance is started, sized for this
machine, with an explicit object store size (Ray's default of 30 % of RAM is too greedy beside PyTorch), usage
statistics off and no dashboard unless asked for.
"""

from __future__ import annotations

import logging
import os
import socket

from schemas.errors import RuntimeSetupError

log = logging.getLogger(__name__)

MIN_OBJECT_STORE = 200 * 1024**2  # bytes
MAX_OBJECT_STORE = 2 * 1024**3


def default_object_store_memory() -> int:
    """A quarter of physical memory, between 200 MiB and 2 GiB (bytes)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):
        total = 4 * 1024**3
    return max(MIN_OBJECT_STORE, min(total // 4, MAX_OBJECT_STORE))


def init_ray(
    address: str | None = None,
    *,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    dashboard: bool = False,
    log_to_driver: bool = False,
) -> dict:
    """Make sure this process is connected to Ray; returns ``{"address", "local", "cpus"}``.

    Idempotent: when Ray is already initialised, it is left as it is and described.
    Raises :class:`RuntimeSetupError` when the cluster at ``address`` / ``RAY_ADDRESS`` cannot be reached.
    """
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    if ray.is_initialized():
        return describe()
    address = address or os.environ.get("RAY_ADDRESS") or None
    if address:
        _check_reachable(address)
    try:
        if address:
            ray.init(address=address, log_to_driver=log_to_driver, logging_level=logging.WARNING)
        else:
            os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # token auth is meant for clusters, not a local run
            ray.init(
                num_cpus=num_cpus or os.cpu_count(),
                object_store_memory=object_store_memory or default_object_store_memory(),
                include_dashboard=dashboard,
                log_to_driver=log_to_driver,
                logging_level=logging.WARNING,
            )
    except (ConnectionError, TimeoutError, ValueError, RuntimeError) as err:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        hint = (
            "check RAY_ADDRESS / --ray-address and that the cluster is up"
            if address
            else "see /tmp/ray/session_latest/logs"
        )
        raise RuntimeSetupError(f"cannot start or join {where}: {err}; {hint}") from None
    info = describe()
    log.info("Ray ready: %s", info)
    return info


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast on a dead address: Ray itself keeps retrying a missing GCS for minutes."""
    if address == "auto" or address.startswith("local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise RuntimeSetupError(f"bad Ray address {address!r}; use host:port or ray://host:port")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as err:
        raise RuntimeSetupError(
            f"cannot reach the Ray cluster at {address}: {err.strerror or err}; "
            "check RAY_ADDRESS / --ray-address and that the cluster is up"
        ) from None


def describe() -> dict:
    """Address, whether the instance is local to this process, and its CPU count."""
    import ray

    context = ray.get_runtime_context()
    return {
        "address": context.gcs_address,
        "local": not os.environ.get("RAY_ADDRESS"),
        "cpus": ray.cluster_resources().get("CPU", 0),
    }


def shutdown_ray() -> None:
    """Disconnect (and stop a local instance)."""
    import ray

    if ray.is_initialized():
        ray.shutdown()
