"""Delivery into the store under faults: two deliveries of one cue at once, byte-identical re-renders, an S3 outage
during uploads, a missing bucket, a store that fails at the very end of a batch, invalid-only submissions, and a Ray
job server that answers errors."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cues.pipelines.compose.composer import ComposerModels
from cues.pipelines.generate.cue_writer import deliver_cue, make_cue, render_key
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.schemas.brief_file import read_brief_bytes
from cues.schemas.manifest import read_manifest

EVERY_FORMAT = (
    "id: race\nmedium: ad\nmood: happy\nlength: 4\n"
    "delivery: {formats: [wav, flac, mp3, midi], stems: true, alternates: [underscore]}"
)


def spec_of(text: str):
    [entry] = read_brief_bytes(text.encode(), "x.yaml")
    return expand_cues(entry.brief)[0]


@pytest.fixture(scope="module")
def models():
    return ComposerModels.load()


# --- 9: the same render key, the same bytes; two deliveries at once ----------------------------------------------


def test_rendering_the_same_render_key_twice_gives_byte_identical_files(models):
    spec = spec_of(EVERY_FORMAT)
    with CueRenderer() as renderer:
        key = render_key(spec, models.versions, renderer.identity)
        first = make_cue(spec, key, models, renderer)
        time.sleep(1.1)  # a wall clock in any file would now read differently
        second = make_cue(spec, key, models, renderer)
    assert sorted(first.files) == sorted(second.files)
    assert {"mix.wav", "mix.flac", "preview.mp3", "cue.mid", "pianoroll.png", "stems/bass.wav"} <= set(first.files)
    assert {"alternates/underscore.wav", "alternates/underscore.flac"} <= set(first.files)
    for name, (data, _, _) in first.files.items():  # the audio as finished files in each render's scratch folder
        assert contents(data) == contents(second.files[name][0]), name
    first.close()
    assert not any(isinstance(data, Path) and data.exists() for data, _, _ in first.files.values())


def contents(data: bytes | Path) -> bytes:
    return data.read_bytes() if isinstance(data, Path) else data


class Together:
    """Held while a cue is made (``deliver_cue``'s ``making``); on leaving, waits until every delivery has made its
    cue, so all of them then store at the same moment."""

    def __init__(self, parties: int):
        self.barrier = threading.Barrier(parties, timeout=120)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.barrier.wait()


def test_two_deliveries_of_one_cue_at_once_leave_one_manifest_whose_files_match(store, models):
    spec = spec_of(EVERY_FORMAT)
    together = Together(2)
    results, errors = [], []

    def deliver() -> None:
        try:
            with CueRenderer() as renderer:  # each its own synth, as two workers or two submits would have
                results.append(deliver_cue(store, spec, models, renderer, together))
        except Exception as err:  # reported below, with the other delivery's outcome
            errors.append(err)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({r.key for r in results}) == 1 and all(r.ok for r in results)
    assert sorted(r.skipped for r in results) == [False, True]  # one delivered it, the other found it delivered
    manifests = [k for k in store.list("cues/") if k.endswith("manifest.json")]
    assert manifests == [f"{results[0].prefix}/manifest.json"]
    manifest = read_manifest(store.get_bytes(manifests[0]))
    for name, entry in manifest.files.items():
        data = store.get_bytes(f"{results[0].prefix}/{name}")
        assert (len(data), store.stat(f"{results[0].prefix}/{name}").sha256) == (entry.bytes, entry.sha256), name


# --- 10: a store outage during uploads; a missing bucket ---------------------------------------------------------


class Outage:
    """Held while a cue is made; on leaving, takes the S3 server down for ``seconds``, so the cue's uploads start
    while it is down."""

    def __init__(self, s3_control, seconds: float):
        self.s3_control, self.seconds = s3_control, seconds
        self.back: threading.Thread | None = None

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.s3_control.stop()
        self.back = threading.Thread(target=lambda: (time.sleep(self.seconds), self.s3_control.start()))
        self.back.start()


def test_a_cue_rides_out_a_three_second_s3_outage_during_its_uploads(s3_control, s3_bucket, models):
    from cues.pipelines.store import open_store

    store = open_store(f"s3://{s3_bucket}/outage")
    spec = spec_of(EVERY_FORMAT)
    outage = Outage(s3_control, 3.0)
    try:
        with CueRenderer() as renderer:
            result = deliver_cue(store, spec, models, renderer, outage)
    finally:
        if outage.back:
            outage.back.join()
    assert result.ok and not result.skipped
    manifest = read_manifest(store.get_bytes(f"{result.prefix}/manifest.json"))
    for name, entry in manifest.files.items():
        assert store.stat(f"{result.prefix}/{name}").sha256 == entry.sha256, name


def test_the_store_is_retried_on_the_configured_schedule_and_the_default_is_15_seconds(s3_control, s3_bucket, caplog):
    from cues.pipelines.generate.cue_writer import retrying
    from cues.pipelines.store import open_store
    from cues.schemas.config import GenerateConfig
    from cues.schemas.errors import StoreUnavailable

    assert GenerateConfig(sources=("x",)).store_retry_delays_s == (1.0, 2.0, 4.0, 8.0)
    store = open_store(f"s3://{s3_bucket}/retries")
    s3_control.stop()
    try:
        with pytest.raises(StoreUnavailable):
            retrying(lambda: store.exists("anything"), "probing", (0.05, 0.1))
    finally:
        s3_control.start()
    waits = [r.getMessage() for r in caplog.records if r.getMessage().startswith("probing: ")]
    assert [w.rsplit("; ", 1)[1] for w in waits] == ["trying again in 0.05 s", "trying again in 0.1 s"]
    assert retrying(lambda: store.exists("anything"), "probing", ()) is False  # back: answered at once


@pytest.mark.ray
def test_a_missing_bucket_fails_the_batch_before_any_cue_is_rendered(s3_server, tmp_path):
    import ray

    from cues.services.cli.app import app

    briefs = tmp_path / "briefs.yaml"
    briefs.write_text("id: a\nmedium: ad\nmood: happy\nlength: 4\n")
    ray_was_up = ray.is_initialized()
    clock = time.monotonic()
    result = CliRunner().invoke(app, ["submit", str(briefs), "--store", "s3://no-such-bucket-here/cues"])
    assert time.monotonic() - clock < 10  # rendering one cue takes longer: Ray alone starts in ~5 s
    assert ray.is_initialized() == ray_was_up  # no Ray started for this batch
    assert result.exit_code == 1
    assert result.output.split("\n\n") == [  # the store it writes to, then (after the progress bar) the error
        "store: s3://no-such-bucket-here/cues",
        "Error: cannot write to the store s3://no-such-bucket-here/cues: bucket 'no-such-bucket-here' does not "
        "exist (for s3://no-such-bucket-here/cues/.cues-write-check); create it or fix the store URI\n",
    ]


# --- 22: a Ray job server that answers errors -----------------------------------------------------------------


class JobServer:
    """A tiny HTTP job server on 127.0.0.1 that speaks enough of Ray's jobs API for ``JobSubmissionClient``: the
    version, no job known, package uploads accepted, and each job submission answered from ``answers`` in turn
    (status, body); every POSTed submission is kept in ``submitted``."""

    def __init__(self, answers: list[tuple[int, str]]):
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.answers, self.submitted = list(answers), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_):  # quiet
                pass

            def reply(self, status: int, body: str, kind: str = "application/json") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/api/version":
                    self.reply(200, json.dumps({"version": "4", "ray_version": "2.60.0", "ray_commit": "x"}))
                else:  # /api/jobs/<id> (no such job yet), /api/packages/… (not uploaded yet)
                    self.reply(404, "not found", "text/plain")

            def do_PUT(self):  # a package upload (the job's working directory)
                self.rfile.read(int(self.headers["Content-Length"]))
                self.reply(200, "{}")

            def do_POST(self):
                server.submitted.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                status, body = server.answers.pop(0) if len(server.answers) > 1 else server.answers[0]
                if status == 200:
                    job = server.submitted[-1]["submission_id"]
                    body = json.dumps({"job_id": job, "submission_id": job})
                self.reply(status, body, "application/json" if status == 200 else "text/plain")

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def job_server(request):
    import ray.job_submission  # noqa: F401  Ray's log handler takes the stderr of its import: not a CliRunner's

    server = JobServer(request.param)
    yield server
    server.close()


NO_AGENT = (500, "No available agent to submit job, please try again later")


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The seconds the job submission waits between attempts, recorded instead of slept (the schedule's 15 s would
    be the suite's longest idle wait); the attempts themselves go to the real server."""
    from types import SimpleNamespace

    from cues.services.cli import job_submission

    asked: list[float] = []
    monkeypatch.setattr(job_submission, "time", SimpleNamespace(sleep=asked.append))
    return asked


def submit_as_job(briefs, address: str):
    from cues.services.cli.app import app

    return CliRunner().invoke(app, ["submit", str(briefs), "--as-job", "--ray-address", address, "--store", "s3://b/c"])


def job_id_of(briefs) -> str:
    from cues.schemas.config import GenerateConfig
    from cues.services.cli.job_submission import submission_id

    return submission_id(GenerateConfig(sources=(str(briefs),), store="s3://b/c"))


@pytest.mark.parametrize("job_server", [[NO_AGENT, NO_AGENT, (200, "")]], indirect=True)
def test_a_job_server_without_an_agent_yet_is_asked_again_and_runs_the_job_with_python(job_server, tmp_path, waits):
    briefs = tmp_path / "briefs.yaml"
    briefs.write_text("id: a\nmedium: ad\nmood: happy\nlength: 4\n")
    result = submit_as_job(briefs, job_server.address)
    job = job_id_of(briefs)
    assert result.exit_code == 0, result.output
    assert result.output == f"submitted Ray job {job}; `ray job logs --follow {job}` follows it\n"
    assert len(job_server.submitted) == 3 and waits == [1.0, 2.0]
    # the cluster's Python runs the installed package: no `cues` script needed on the cluster's PATH
    assert job_server.submitted[-1]["entrypoint"] == "python -m cues.services.cli submit briefs-0 --store s3://b/c"


@pytest.mark.parametrize("job_server", [[NO_AGENT]], indirect=True)
def test_a_job_server_that_keeps_failing_gives_one_line_after_a_few_attempts(job_server, tmp_path, waits):
    briefs = tmp_path / "briefs.yaml"
    briefs.write_text("id: a\nmedium: ad\nmood: happy\nlength: 4\n")
    result = submit_as_job(briefs, job_server.address)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: the Ray job server at {job_server.address} did not take job {job_id_of(briefs)} in 5 attempts over "
        "15 s: HTTP 500: No available agent to submit job, please try again later; check the cluster (`ray status`, "
        "the dashboard's logs) and submit again\n"
    )
    assert len(job_server.submitted) == 5 and waits == [1.0, 2.0, 4.0, 8.0]


@pytest.mark.parametrize("job_server", [[(400, "runtime_env: bad working_dir")]], indirect=True)
def test_a_job_server_that_refuses_the_job_is_not_asked_again(job_server, tmp_path):
    briefs = tmp_path / "briefs.yaml"
    briefs.write_text("id: a\nmedium: ad\nmood: happy\nlength: 4\n")
    result = submit_as_job(briefs, job_server.address)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: the Ray job server at {job_server.address} refused job {job_id_of(briefs)}: HTTP 400: "
        "runtime_env: bad working_dir\n"
    )
    assert len(job_server.submitted) == 1


# --- 11: the store fails at the very end of a batch -----------------------------------------------------------


@pytest.mark.ray
def test_a_batch_folder_that_cannot_be_written_still_shows_every_cue_and_keeps_the_record_here(
    ray_session, tmp_path, monkeypatch
):
    from cues.schemas.batch import read_batch_record
    from cues.services.cli.app import app

    monkeypatch.chdir(tmp_path)
    briefs = tmp_path / "briefs.yaml"
    briefs.write_text("id: kept\nmedium: ad\nmood: calm\nlength: 4\n")
    store = tmp_path / "store"
    store.mkdir()
    (store / "batches").write_text("a file where the batch folders go: every batch write fails")
    result = CliRunner().invoke(app, ["submit", str(briefs), "--store", str(store)])
    assert result.exit_code == 1
    [fallback] = tmp_path.glob("cues-batch-b-*.json")
    record = read_batch_record(fallback.read_bytes())
    assert [(r.cue_id, r.ok) for r in record.results] == [("kept", True)]
    assert (store / record.results[0].prefix / "manifest.json").exists()  # the cue itself was delivered
    lines = result.output.splitlines()
    assert any(line.startswith("│ kept ") and "rendered" in line for line in lines), result.output  # the cue table
    assert lines[-1] == (
        f"Error: batch {record.batch_id} ran, but its record could not be written to the store: cannot delete "
        f"{store.as_uri()}/batches/{record.batch_id}/_SUCCESS: Not a directory; the record is in {fallback}"
    )


# --- 16: submissions without a valid brief ---------------------------------------------------------------------


def test_submissions_without_a_valid_brief_get_their_own_batch(tmp_path):
    from cues.pipelines.generate.job import run
    from cues.schemas.config import GenerateConfig

    store = tmp_path / "store"
    (tmp_path / "one.yaml").write_text("id: one\nmedium: ad\nmood: grumpy\nlength: 4\n")
    (tmp_path / "two.yaml").write_text("id: two\nmedium: ad\nlength: 4\n")
    one = run(GenerateConfig(sources=(str(tmp_path / "one.yaml"),), store=str(store)))
    two = run(GenerateConfig(sources=(str(tmp_path / "two.yaml"),), store=str(store)))
    assert one.cues == two.cues == () and one.batch_id != two.batch_id
    for record in (one, two):  # neither overwrote the other
        kept = (store / record.key).read_text()
        assert f"{record.briefs[0].source}" in kept and record.briefs[0].error in kept.replace('\\"', '"')
    again = run(GenerateConfig(sources=(str(tmp_path / "one.yaml"),), store=str(store)))
    assert again.batch_id == one.batch_id  # the same submission, the same batch
