"""The warm local runtime (`cues up`, issue 18): a head and a warm worker of its own beside the session's Ray, a
submit that uses them, `cues status` and `cues down`; and, without Ray, when a warm worker may serve a batch."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from cues.pipelines.generate.worker_identity import WorkerIdentity, code_digest, mismatch
from cues.pipelines.ray_runtime import HEAD_RECORD, LocalHead, stop_head
from cues.schemas.config import RenderConfig
from cues.schemas.manifest import read_manifest
from tests.conftest import free_port
from tests.test_worker_pool import CUES, subprocess_env

SERVES = WorkerIdentity(code="c0de", models=None, render=RenderConfig().model_dump_json())


def test_a_warm_worker_serves_only_batches_of_its_code_models_and_render_settings():
    assert mismatch(SERVES, SERVES) is None
    other_code = WorkerIdentity(code="0ld", models=None, render=SERVES.render)
    assert mismatch(other_code, SERVES) == (
        "it runs other code (started before the code changed, or from another checkout)"
    )
    other_models = WorkerIdentity(code="c0de", models="/m/v2", render=SERVES.render)
    assert mismatch(other_models, SERVES) == "it loaded the models /m/v2, the batch asks for shipped"
    changed = WorkerIdentity(code="c0de", models=None, render=SERVES.render, models_changed=True)
    assert mismatch(changed, SERVES) == "the models shipped changed on disk since it loaded them"
    other_font = WorkerIdentity(code="c0de", models=None, render=RenderConfig(soundfont="timgm6mb").model_dump_json())
    assert mismatch(other_font, SERVES) == "it renders with other settings (--soundfont)"


def test_the_code_digest_follows_the_source_files_and_the_data_tables(tmp_path):
    (tmp_path / "pipelines").mkdir()
    (tmp_path / "schemas").mkdir()
    (tmp_path / "pipelines" / "a.py").write_text("x = 1\n")
    (tmp_path / "schemas" / "palettes.yaml").write_text("calm: {}\n")
    (tmp_path / "schemas" / "notes.md").write_text("not code\n")
    before = code_digest(tmp_path)
    (tmp_path / "schemas" / "notes.md").write_text("still not code\n")
    assert code_digest(tmp_path) == before
    (tmp_path / "schemas" / "palettes.yaml").write_text("calm: {tempo: 60}\n")
    assert code_digest(tmp_path) != before


@pytest.fixture
def runtime_env():
    """An environment whose `cues up` starts a head in a temp dir of its own; whatever it started is stopped after
    the test, by its recorded process group, even when the test fails half-way."""
    folder = tempfile.mkdtemp(prefix="cw-", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    yield subprocess_env(CUES_RUNTIME_DIR=folder)
    record = Path(folder, HEAD_RECORD)
    if record.exists():
        stop_head(LocalHead(**json.loads(record.read_text())))
    shutil.rmtree(folder, ignore_errors=True)


def cues(env: dict[str, str], *args: str, code: int = 0) -> subprocess.CompletedProcess:
    done = subprocess.run([str(CUES), *args], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == code, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.mark.ray
@pytest.mark.timeout(900)
def test_cues_up_keeps_a_warm_worker_that_a_submit_uses_and_cues_down_stops_it(runtime_env, tmp_path):
    low = free_port()
    up = cues(runtime_env, "up", "--workers", "1", "--port", str(free_port()), "--worker-ports", f"{low}-{low + 30}")
    address = up.stdout.split("Ray head: ", 1)[1].split(" ", 1)[0]
    assert "warm cue workers: 1 of 1 ready\n  cue-worker-0: pid" in up.stdout, up.stdout  # as `cues status` says it

    brief = tmp_path / "sting.yaml"
    brief.write_text("id: warm-sting\nmedium: tv\nmood: playful\nlength: 4\nending: button\n")
    submitted = cues(runtime_env, "-v", "submit", str(brief), "--store", str(tmp_path / "store"))
    assert "1 warm cue worker(s) deliver this batch" in submitted.stderr, submitted.stderr[-3000:]
    assert f"Made in the warm runtime at {address}\n" in submitted.stdout
    [manifest] = (tmp_path / "store" / "cues" / "warm-sting").glob("*/manifest.json")
    warm = read_manifest(manifest.read_bytes())
    assert warm.length_s == 4.0

    # --cold, a one-cue batch: made in the submit's own process by the same worker code, no Ray started
    cold = cues(runtime_env, "submit", str(brief), "--store", str(tmp_path / "cold"), "--cold")
    assert "Made in this process (no Ray)\n" in cold.stdout
    [batch] = (tmp_path / "cold" / "batches").glob("*/batch.json")
    assert json.loads(batch.read_text())["runs"][0]["runtime"] == "this process (no Ray)"
    [manifest] = (tmp_path / "cold" / "cues" / "warm-sting").glob("*/manifest.json")
    made = read_manifest(manifest.read_bytes())
    assert {n: f.sha256 for n, f in made.files.items()} == {n: f.sha256 for n, f in warm.files.items()}

    down = cues(runtime_env, "down")
    assert down.stdout.startswith(f"stopped the cues runtime at {address}")
    assert cues(runtime_env, "status", code=1).stdout == "no cues runtime runs (start one with `cues up`)\n"
