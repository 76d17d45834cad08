"""Session fixtures: a real S3-compatible server (moto, over HTTP) and one real local Ray instance."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
# Ray Train's controller polls its workers every 2 s and so notices a finished fit up to 2 s late (2.4 s measured
# between a tiny model's last report and its workers' shutdown; 0.6-1.0 s at 0.5 s): tests/test_train.py runs five fits.
os.environ.setdefault("RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.5")
os.environ.pop("RAY_ADDRESS", None)  # tests always use their own local instance
os.environ.pop("CUES_STORE", None)
# and never a warm runtime a developer started with `cues up` (tests that want one start their own)
os.environ["CUES_RUNTIME_DIR"] = f"/tmp/cues-ray-tests-{os.getpid()}"  # never created: no runtime is found there

S3_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class S3Server:
    """The session's S3 server process (``tests/s3_server.py``): its endpoint, and ``stop``/``start`` to take it
    down and bring it back with its buckets intact."""

    def __init__(self, process: subprocess.Popen, endpoint: str):
        self.process, self.endpoint = process, endpoint

    def _command(self, command: str, answer: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline().strip()
        if line != answer:
            raise RuntimeError(f"the S3 server answered {line!r} to {command!r}")

    def stop(self) -> None:
        self._command("stop", "stopped")

    def start(self) -> None:
        self._command("start", "started")
        _wait_for(self.endpoint, self.process)


def _wait_for(endpoint: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(f"{endpoint}/moto-api/", timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the moto S3 server did not start") from None
            time.sleep(0.2)


@pytest.fixture(scope="session")
def s3_control():
    """A moto S3 server in a subprocess on 127.0.0.1; AWS_* env points the whole session (and Ray) at it."""
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    script = os.path.join(os.path.dirname(__file__), "s3_server.py")
    process = subprocess.Popen(
        [sys.executable, script, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("the moto S3 server did not start")
    _wait_for(endpoint, process)
    saved = {k: os.environ.get(k) for k in [*S3_ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(S3_ENV, AWS_ENDPOINT_URL=endpoint)
    yield S3Server(process, endpoint)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    process.stdin.close()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def s3_server(s3_control):
    """The session S3 server's endpoint URL."""
    return s3_control.endpoint


@pytest.fixture
def s3_bucket(s3_server):
    """A fresh, empty bucket on the session's S3 server."""
    import boto3

    name = f"test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1").create_bucket(Bucket=name)
    return name


@pytest.fixture(scope="session")
def ray_session(s3_server):
    """One local Ray for the whole session, started after the S3 env is set so workers inherit it."""
    from cues.pipelines.ray_runtime import init_ray, shutdown_ray

    info = init_ray(num_cpus=2, object_store_memory=200 * 1024**2)
    yield info
    shutdown_ray()


@pytest.fixture(params=["file", pytest.param("s3", marks=pytest.mark.s3)])
def store(request, tmp_path):
    """The same tests against both backends: a fresh local folder, or a fresh bucket with a prefix."""
    from cues.pipelines.store import open_store

    if request.param == "file":
        return open_store(str(tmp_path / "store"))
    bucket = request.getfixturevalue("s3_bucket")
    return open_store(f"s3://{bucket}/some/prefix")
