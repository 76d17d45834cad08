"""Starting or joining Ray: the one place every pipeline gets its Ray from, and the only one with ``ray.init``.

``RAY_ADDRESS`` (or an explicit address) joins a cluster; otherwise a local instance is started, sized for this
machine, with an explicit object store size (Ray's default of 30 % of RAM is too greedy beside PyTorch), usage
statistics off and no dashboard unless asked for (Ray Jobs need it).

A local head that outlives one command (`cues up`, issue 18) is started with Ray's own ``ray start --head --block``
(:func:`start_head`), found again by its record beside Ray's address file (:func:`find_head`) and stopped by its
process group (:func:`stop_head`).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

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


def ray_connected() -> bool:
    """Whether this process is connected to a Ray, asked without importing Ray (0.4-1.4 s) when it is not loaded."""
    ray = sys.modules.get("ray")
    return ray is not None and ray.is_initialized()


def free_cpus() -> float:
    """CPUs of the connected Ray that no task or actor holds now."""
    import ray

    return float(ray.available_resources().get("CPU", 0.0))


def shutdown_ray() -> None:
    """Disconnect from Ray (which stops a local instance this process started)."""
    global _started_local
    if ray_connected():  # not imported: nothing to shut down, and importing Ray costs 0.4-1.4 s
        sys.modules["ray"].shutdown()
    _started_local = None


# --- a local head that outlives the command that started it (`cues up`) -------------------------------------------

RUNTIME_DIR_ENV = "CUES_RUNTIME_DIR"
# Not Ray's /tmp/ray: a `ray start` records its address there, and every plain ray.init() on this machine (another
# user's, a test session's) would then join this head instead of starting its own.
DEFAULT_RUNTIME_DIR = "/tmp/cues-ray"
DEFAULT_HEAD_PORT = 6379  # Ray's own default GCS port
HEAD_RECORD = "cues-head.json"  # what `cues up` started, beside Ray's own address file
RAY_ADDRESS_FILE = "ray_current_cluster"  # written by `ray start` into its temp dir
HEAD_START_TIMEOUT_S = 90.0  # seconds for `ray start` to bring up GCS and raylet on a busy 2-core machine
HEAD_STOP_TIMEOUT_S = 30.0  # seconds for the head's processes to end after SIGTERM, before SIGKILL
# Ports every head takes by default (metrics 8080, dashboard agent 52365, client server 10001…): a second Ray on this
# machine (a test session's) would collide, so each gets a free one.
_AUXILIARY_PORTS = (
    "--node-manager-port",
    "--object-manager-port",
    "--dashboard-agent-listen-port",
    "--dashboard-agent-grpc-port",
    "--runtime-env-agent-port",
    "--metrics-export-port",
    "--ray-client-server-port",
)


@dataclass(frozen=True)
class LocalHead:
    """A Ray head on this machine started by `cues up`: its GCS ``address`` (host:port), the ``pid`` of its ``ray
    start --block`` process (the leader of its own process group: stopping it stops only this head), its
    ``temp_dir``, its ``cpus``, ``object_store_memory`` (bytes), the ``code`` digest it was started with and when
    (``started``, ISO 8601 UTC)."""

    address: str
    pid: int
    temp_dir: str
    cpus: int
    object_store_memory: int
    code: str = ""
    started: str = ""

    def stop_hint(self) -> str:
        return "cues down" if self.temp_dir == runtime_dir() else f"{RUNTIME_DIR_ENV}={self.temp_dir} cues down"


def runtime_dir() -> str:
    """Where `cues up` keeps its head: ``CUES_RUNTIME_DIR``, else ``/tmp/cues-ray`` (short: Ray's socket paths
    must fit 107 bytes)."""
    return os.environ.get(RUNTIME_DIR_ENV) or DEFAULT_RUNTIME_DIR


def start_head(
    *,
    temp_dir: str | None = None,
    port: int = DEFAULT_HEAD_PORT,
    num_cpus: int | None = None,
    object_store_memory: int | None = None,
    worker_ports: tuple[int, int] | None = None,
    code: str = "",
    timeout_s: float = HEAD_START_TIMEOUT_S,
) -> LocalHead:
    """Start a Ray head with Ray's own ``ray start --head --block`` in a process group of its own that outlives
    this process; return it once its GCS answers. ``num_cpus`` (default: all) and ``object_store_memory`` (bytes,
    default :func:`default_object_store_memory`) as for :func:`init_ray`; no dashboard, usage statistics off; GCS on
    ``port``, workers on ``worker_ports`` (low, high; default Ray's range), every other port free-picked.

    Raises :class:`RuntimeSetupError` when the port is taken or the head does not come up (with its log's end)."""
    temp_dir = temp_dir or runtime_dir()
    os.makedirs(temp_dir, exist_ok=True)
    if _answers(f"127.0.0.1:{port}"):
        raise RuntimeSetupError(f"port {port} is taken (another Ray on this machine?); pass --port")
    for stale in (HEAD_RECORD, RAY_ADDRESS_FILE):
        Path(temp_dir, stale).unlink(missing_ok=True)
    cpus = num_cpus or os.cpu_count() or 1
    memory = object_store_memory or default_object_store_memory()
    command = [
        sys.executable,
        "-m",
        "ray.scripts.scripts",  # the `ray` command of this interpreter: its workers import this checkout's code
        "start",
        "--head",
        "--block",
        f"--port={port}",
        f"--temp-dir={temp_dir}",
        f"--num-cpus={cpus}",
        f"--object-store-memory={memory}",
        "--include-dashboard=false",
        "--disable-usage-stats",
        *(f"{option}={_free_port()}" for option in _AUXILIARY_PORTS),
    ]
    if worker_ports:
        command += [f"--min-worker-port={worker_ports[0]}", f"--max-worker-port={worker_ports[1]}"]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    # On SIGTERM a head drains for 30 s by default (for Serve behind a load balancer), with warm workers held the
    # whole time; one machine's head has nowhere to drain to.
    env["RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S"] = "0"
    env.pop("RAY_ADDRESS", None)
    log_path = Path(temp_dir, "cues-head.log")
    with open(log_path, "wb") as head_log:
        process = subprocess.Popen(
            command,
            stdout=head_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
    deadline = time.monotonic() + timeout_s
    while not ((address := _address_in(temp_dir)) and _answers(address)):
        if process.poll() is not None or time.monotonic() > deadline:
            _end_group(process.pid)
            tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
            raise RuntimeSetupError(
                f"the Ray head did not start within {timeout_s:g} s: " + " / ".join(tail) + f" (log: {log_path})"
            )
        time.sleep(0.2)
    head = LocalHead(
        address=address,  # as Ray wrote it: the node's IP, which ray.init and the address file agree on
        pid=process.pid,
        temp_dir=temp_dir,
        cpus=cpus,
        object_store_memory=memory,
        code=code,
        started=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    )
    Path(temp_dir, HEAD_RECORD).write_text(json.dumps(asdict(head), indent=2))
    return head


def find_head(temp_dir: str | None = None, answering: bool = True) -> LocalHead | None:
    """The head `cues up` started in ``temp_dir`` (default :func:`runtime_dir`) if it is still running: its record
    is there, Ray's address file names it, its process lives and (``answering``) its GCS answers. None otherwise
    (a few ms)."""
    temp_dir = temp_dir or runtime_dir()
    try:
        head = LocalHead(**json.loads(Path(temp_dir, HEAD_RECORD).read_text()))
    except (OSError, ValueError, TypeError):
        return None
    if _address_in(temp_dir) != head.address or not _is_our_head(head):
        return None
    return head if not answering or _answers(head.address) else None


def stop_head(head: LocalHead, timeout_s: float = HEAD_STOP_TIMEOUT_S) -> None:
    """Stop ``head``: SIGTERM to its ``ray start`` process (which ends the GCS, raylet and workers it started),
    SIGKILL to what is left of its process group after ``timeout_s``; its record and address file are removed.
    Never `ray stop`, which ends every Ray on the machine."""
    if _is_our_head(head):
        os.kill(head.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        while _group_alive(head.pid) and time.monotonic() < deadline:
            time.sleep(0.2)
        _end_group(head.pid)
    for name in (HEAD_RECORD, RAY_ADDRESS_FILE):
        Path(head.temp_dir, name).unlink(missing_ok=True)


def _address_in(temp_dir: str) -> str | None:
    try:
        return Path(temp_dir, RAY_ADDRESS_FILE).read_text().strip() or None
    except OSError:
        return None


def _is_our_head(head: LocalHead) -> bool:
    """Whether ``head.pid`` is still that head's `ray start` (not a process that reused the number)."""
    try:
        command = Path(f"/proc/{head.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"start" in command and f"--temp-dir={head.temp_dir}".encode() in command


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies excluded: this container's PID 1 may never reap
    them)."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (name) ": state, ppid, pgrp, …
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


def _end_group(pgid: int) -> None:
    if _group_alive(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _answers(address: str, timeout: float = 1.0) -> bool:
    host, _, port = address.rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
