"""The one Ray entry point: idempotent, sized, and clear when a cluster cannot be reached."""

import subprocess
import sys
import time

import pytest

from services.ray_runtime import default_object_store_memory, init_ray

pytestmark = pytest.mark.ray


def test_init_is_idempotent_and_reports_cpus(ray_session):
    again = init_ray(num_cpus=1)  # already running: left as it is
    assert again["cpus"] == ray_session["cpus"] == 2.0
    assert again["address"] == ray_session["address"]


def test_object_store_default_is_bounded():
    assert 200 * 1024**2 <= default_object_store_memory() <= 2 * 1024**3


def test_unreachable_cluster_is_a_clear_error_quickly():
    code = (
        "from services.ray_runtime import init_ray\n"
        "from schemas.errors import RuntimeSetupError\n"
        "try:\n    init_ray()\nexcept RuntimeSetupError as e:\n    print(e)\n"
    )
    started = time.monotonic()
    env = {"RAY_ADDRESS": "127.0.0.1:1", "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env=env)
    assert result.stdout.strip() == (
        "cannot reach the Ray cluster at 127.0.0.1:1: Connection refused; check RAY_ADDRESS / --ray-address "
        "and that the cluster is up"
    )
    assert time.monotonic() - started < 30
