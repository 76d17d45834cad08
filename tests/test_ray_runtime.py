"""The one Ray entry point: idempotent, sized, and clear when a cluster cannot be reached."""

import subprocess
import sys
import time

import pytest

from cues.pipelines.ray_runtime import default_object_store_memory, init_ray

pytestmark = pytest.mark.ray


def test_init_is_idempotent_and_reports_cpus(ray_session):
    assert ray_session["cpus"] == 2 and ray_session["local"] is True
    again = init_ray(num_cpus=1)  # already running: left as it is
    assert again == ray_session


def test_object_store_default_is_bounded():
    assert 200 * 1024**2 <= default_object_store_memory() <= 2 * 1024**3


# The error paths run in a fresh interpreter: a failed ray.init must not touch the session's Ray instance.
INIT = (
    "import sys\n"
    "from cues.pipelines.ray_runtime import init_ray\n"
    "from cues.schemas.errors import RuntimeSetupError\n"
    "try:\n    init_ray(sys.argv[1] or None)\nexcept RuntimeSetupError as e:\n    print(e)\n"
)
REFUSED = (
    "cannot reach the Ray cluster at 127.0.0.1:1: Connection refused; check RAY_ADDRESS / --ray-address "
    "and that the cluster is up"
)


@pytest.mark.parametrize(
    ("env_address", "argument", "message"),
    [
        ("127.0.0.1:1", "", REFUSED),
        ("", "127.0.0.1:1", REFUSED),
        ("", "no-port-here", "bad Ray address 'no-port-here'; use host:port, ray://host:port or auto"),
    ],
)
def test_unreachable_cluster_is_a_clear_error_quickly(env_address, argument, message):
    env = {"PATH": "/usr/bin:/bin", "RAY_USAGE_STATS_ENABLED": "0"}
    if env_address:
        env["RAY_ADDRESS"] = env_address
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", INIT, argument], capture_output=True, text=True, timeout=60, env=env)
    assert result.stdout.strip() == message, result.stderr[-2000:]
    assert time.monotonic() - started < 20
