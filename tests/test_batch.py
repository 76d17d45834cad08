"""The product as users meet it: `cues submit` into the S3 test server and back out with `cues get` and boto3, a
worker killed mid-batch, the S3 server going down mid-batch, scheduled occurrences, and the batch report in a
browser."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cues.pipelines.generate.brief_sources import EXAMPLES_DIR
from cues.pipelines.generate.job import run
from cues.pipelines.store import open_store
from cues.schemas.config import GenerateConfig
from cues.schemas.errors import BatchNotRecorded, StoreUnreachable
from cues.services.catalog import list_cues
from cues.services.cli.app import app
from tests.browser import media_load_report

pytestmark = pytest.mark.ray
runner = CliRunner()


def cues(*args: str):
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result


def short_briefs(folder: Path, count: int, length: int = 6) -> Path:
    """``count`` short briefs (a few seconds of audio each) in one file."""
    moods = ["happy", "calm", "tense", "playful", "dark", "uplifting", "sad", "epic"]
    docs = [f"id: short-{i}\nmedium: ad\nmood: {moods[i % len(moods)]}\nlength: {length}\n" for i in range(count)]
    path = folder / "briefs.yaml"
    path.write_text("---\n".join(docs))
    return path


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- submit and retrieve ------------------------------------------------------------------------------------


# four of the example files (6 cues, every medium but ad, trailer and web): test_generate_job renders all of them
S3_EXAMPLES = ("film-night-chase.yaml", "tv-kitchen-sting.yaml", "batch-podcast-kit.yaml", "game-forest-loop.yaml")


def test_submit_examples_to_s3_then_read_them_back(ray_session, s3_bucket, tmp_path):
    import boto3

    uri = f"s3://{s3_bucket}/library"
    examples = tmp_path / "examples"
    examples.mkdir()
    for name in S3_EXAMPLES:
        shutil.copy(EXAMPLES_DIR / name, examples / name)
    done = cues("submit", str(examples), "--store", uri)
    assert done.exit_code == 0, done.output
    assert "cues done" in done.output and " 6 " in done.output

    s3 = boto3.client("s3")
    keys = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=s3_bucket) for o in p["Contents"]]
    [batch] = {k.split("/")[2] for k in keys if k.startswith("library/batches/")}
    assert {f"library/batches/{batch}/{n}" for n in ("batch.json", "cuesheet.csv", "report.html", "_SUCCESS")} <= set(
        keys
    )
    manifests = [k for k in keys if k.endswith("/manifest.json")]
    assert len(manifests) == 6
    # plain boto3 sees the files the manifest promises, byte for byte
    for key in manifests:
        manifest = json.loads(s3.get_object(Bucket=s3_bucket, Key=key)["Body"].read())
        folder = key.rsplit("/", 1)[0]
        assert ("cue.mid" in manifest["files"]) == ("midi" in manifest["brief"]["delivery"]["formats"])
        for name in manifest["files"]:
            body = s3.get_object(Bucket=s3_bucket, Key=f"{folder}/{name}")["Body"].read()
            assert sha256(body) == manifest["files"][name]["sha256"]

    listed = cues("ls", "--store", uri, "--format", "json")
    assert len(json.loads(listed.output)) == 6
    tv = json.loads(cues("ls", "--store", uri, "--medium", "tv", "--format", "json").output)
    assert {r["cue_id"] for r in tv} == {"kitchen-bumper"}

    got = cues("get", "night-chase", "--stems", "--format", "wav", "-o", str(tmp_path / "out"), "--store", uri)
    assert got.exit_code == 0, got.output
    fetched = sorted(
        p.relative_to(tmp_path / "out" / "night-chase").as_posix() for p in (tmp_path / "out").rglob("*.*")
    )
    delivered = json.loads((tmp_path / "out/night-chase/night-chase_manifest.json").read_text())["plan"]["stems"]
    named = ["manifest.json", "mix.wav", *(f"stems_{stem['name']}.wav" for stem in delivered)]
    assert fetched == sorted(f"night-chase_{name}" for name in named)  # each file named with its cue id
    assert {"night-chase_stems_melody.wav", "night-chase_stems_bass.wav", "night-chase_stems_drums_perc.wav"} <= set(
        fetched
    )  # a chase: tune, bass, drums
    link = cues("url", "night-chase", "--file", "stems/bass.wav", "--expires", "600", "--store", uri).output.strip()
    assert "X-Amz-Signature=" in link
    with urllib.request.urlopen(link) as response:  # presigned: no credentials needed
        assert sha256(response.read()) == sha256((tmp_path / "out/night-chase/night-chase_stems_bass.wav").read_bytes())
        assert response.headers["Content-Disposition"] == 'attachment; filename="night-chase_stems_bass.wav"'

    # the report, from S3 with presigned links, in a real browser: every player and piano roll loads
    if shutil.which("chromium"):
        page = tmp_path / "report.html"
        page.write_bytes(s3.get_object(Bucket=s3_bucket, Key=f"library/batches/{batch}/report.html")["Body"].read())
        loaded = media_load_report(page, tmp_path)
        assert loaded["bad"] == [] and not loaded["timed_out"], loaded
        assert len(loaded["images"]) == 6 and len(loaded["audio"]) == 6

    again = cues("submit", str(examples), "--store", uri)
    assert again.exit_code == 0
    record = json.loads(s3.get_object(Bucket=s3_bucket, Key=f"library/batches/{batch}/batch.json")["Body"].read())
    assert all(r["skipped"] for r in record["results"]) and len(record["results"]) == 6
    assert [(run["rendered"], run["skipped"]) for run in record["runs"]] == [(6, 0), (0, 6)]  # the first is kept


def test_paths_in_names_and_files_are_refused(ray_session, tmp_path):
    store = tmp_path / "store"
    assert cues("submit", str(short_briefs(tmp_path, 1)), "--store", str(store)).exit_code == 0
    for name in ("../short-0", "/etc/passwd", "short-0/../../x", "short-0/k-..", "SHORT-0"):
        result = cues("get", name, "--store", str(store), "-o", str(tmp_path / "out"))
        assert result.exit_code == 2 and ("bad cue id" in result.output or "bad render key" in result.output), name
    for file in ("../../../etc/passwd", "/etc/passwd", "stems/../manifest.json", "manifest.json"):
        result = cues("url", "short-0", "--file", file, "--store", str(store))
        assert result.exit_code == 2 and "is not a file of cue short-0" in result.output, file
    assert not (tmp_path / "out").exists()
    missing = cues("show", "no-such-cue", "--store", str(store))
    assert missing.exit_code == 1 and "no delivered cue 'no-such-cue'" in missing.output


def test_a_plan_that_departs_from_its_brief_is_shown_and_strict_exits_3(ray_session, tmp_path):
    store, brief = tmp_path / "store", tmp_path / "near.yaml"
    brief.write_text("id: near-hits\nmedium: ad\nmood: calm\nlength: 5\ntempo: 90\nhits: [2.0, 2.03]\n")
    result = cues("submit", str(brief), "--store", str(store), "--strict")
    assert result.exit_code == 3, result.output  # delivered, then refused: 30 ms apart, one hit cannot be met
    assert "30.000 MISSED" in result.output
    assert "warning near-hits: hit at 2 s cannot be met within 10 ms" in result.output
    assert "warning near-hits: tempo 90 bpm became" in result.output
    shown = cues("show", "near-hits", "--store", str(store))
    assert "hit 2 s: at 2.030 s (+30.0 ms)" in shown.output and "MISSED" in shown.output
    assert "warning: tempo 90 bpm became" in shown.output
    # a revision of the delivered cue (issue 18): only the hit that could not be met goes; its music is kept
    [original] = store.glob("cues/near-hits/*/manifest.json")
    before = original.read_bytes()
    revision = tmp_path / "revision.yaml"
    revision.write_text("revise: near-hits\nhits: [2.0]\n")
    checked = cues("validate", str(revision), "--store", str(store))
    assert checked.exit_code == 0
    assert "near-hits-r1  revision of near-hits, ad, calm, 0:05, G lydian, 1 hit" in checked.output
    planned = cues("plan", str(revision), "--store", str(store))
    assert "revision: changed by the brief: hits [2, 2.03] → [2]" in planned.output, planned.output
    revised = cues("submit", str(revision), "--store", str(store))
    assert revised.exit_code == 0, revised.output
    assert "note near-hits-r1: revision of near-hits (k-" in revised.output
    assert "note near-hits-r1: changed by the brief: hits [2, 2.03] → [2]" in revised.output
    manifest = json.loads(next(store.glob("cues/near-hits-r1/*/manifest.json")).read_text())
    old = json.loads(before)
    assert manifest["revision_of"] == f"near-hits/{old['cue_key']}" and manifest["seed"] == old["seed"]
    assert manifest["plan"]["key"] == old["plan"]["key"] and manifest["plan"]["bars"] == old["plan"]["bars"]
    assert original.read_bytes() == before  # the revised cue is never touched
    reports = [p.read_text() for p in store.glob("batches/*/report.html")]
    assert any("<li>revision of near-hits (k-" in report for report in reports)
    shown = cues("show", "near-hits-r1", "--store", str(store))
    assert "revision: kept: seed " in shown.output and "MISSED" not in shown.output
    again = cues("submit", str(revision), "--store", str(store))  # the same revision: the same id, skipped
    assert "already in the store" in again.output and "near-hits-r2" not in again.output


def test_a_tampered_file_fails_its_sha256_check(ray_session, tmp_path):
    store = tmp_path / "store"
    cues("submit", str(short_briefs(tmp_path, 1)), "--store", str(store))
    [mix] = store.glob("cues/short-0/*/mix.wav")
    data = bytearray(mix.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one sample changed, as by a bad copy
    mix.write_bytes(bytes(data))
    result = cues("get", "short-0", "--format", "wav", "-o", str(tmp_path / "out"), "--store", str(store))
    assert result.exit_code == 1 and "does not match the manifest" in result.output
    assert not (tmp_path / "out" / "short-0" / "mix.wav").exists()


# --- failures mid-batch -------------------------------------------------------------------------------------


def worker_pids() -> list[int]:
    """Processes of the cue workers (Ray titles them ``ray::CueWorker…``)."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                title = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if title.startswith(b"ray::CueWorker"):
                pids.append(int(entry))
    return pids


def test_a_worker_killed_mid_batch_and_the_batch_completes_with_every_cue_once(ray_session, tmp_path):
    briefs = short_briefs(tmp_path, 6)
    killed = []

    def kill_one(stage: str, done: int, total: int) -> None:
        if stage.startswith("composing") and done == 1 and not killed:
            pids = worker_pids()
            assert pids, "no cue worker process found"
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])

    record = run(GenerateConfig(sources=(str(briefs),), store=str(tmp_path / "store"), workers=2), kill_one)
    assert killed
    assert [r.cue_id for r in record.results] == [f"short-{i}" for i in range(6)]
    assert all(r.ok for r in record.results), [r.error for r in record.results]
    delivered = list_cues(open_store(str(tmp_path / "store")))
    assert sorted(c.cue_id for c in delivered) == [f"short-{i}" for i in range(6)]  # each once
    assert (tmp_path / "store" / record.folder / "_SUCCESS").exists()


def test_the_s3_server_going_down_mid_batch_never_shows_a_half_made_cue(
    ray_session, s3_control, s3_bucket, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)  # where the batch record is kept when the store cannot take it
    uri = f"s3://{s3_bucket}/outage"
    # a short retry schedule: the cues after the outage fail after 0.7 s of retries instead of the default 15 s
    config = GenerateConfig(
        sources=(str(short_briefs(tmp_path, 6)),), store=uri, workers=2, store_retry_delays_s=(0.1, 0.2, 0.4)
    )
    down = []

    def outage(stage: str, done: int, total: int) -> None:
        if stage.startswith("composing") and done == 2 and not down:
            s3_control.stop()
            down.append(done)

    try:
        with pytest.raises(BatchNotRecorded) as raised:
            run(config, outage)  # the cues after the outage fail (after their retries), and so does the record
    finally:
        if down:
            s3_control.start()
    assert isinstance(raised.value.__cause__, StoreUnreachable)
    record = raised.value.record  # every cue's result survives the store: kept here, and shown by the CLI
    assert len(record.results) == 6 and raised.value.kept == tmp_path / f"cues-batch-{record.batch_id}.json"
    store = open_store(uri)
    listed = list_cues(store)
    assert 2 <= len(listed) < 6
    for cue in listed:  # whatever is listed is whole
        for name, entry in cue.files.items():
            assert store.stat(f"{cue.prefix}/{name}").sha256 == entry.sha256
    assert not any(k.endswith("_SUCCESS") for k in store.list("batches/"))

    record = run(config)  # the re-run completes only what is missing
    assert all(r.ok for r in record.results)
    assert sum(r.skipped for r in record.results) == len(listed)
    assert len(list_cues(store)) == 6 and store.exists(f"{record.folder}/_SUCCESS")


# --- schedules ----------------------------------------------------------------------------------------------


def schedule_file(folder: Path, store: Path) -> Path:
    path = folder / "weekly.yaml"
    path.write_text(
        "name: weekly-stings\ncron: '0 3 * * MON'\ntimezone: Europe/London\n"
        f"store: {store.as_uri()}\n"
        "template: {medium: ad, length: 6}\nmatrix:\n  mood: [happy, calm]\n"
    )
    return path


def test_a_schedule_occurrence_run_twice_makes_one_batch(ray_session, tmp_path):
    store = tmp_path / "store"
    path = schedule_file(tmp_path, store)
    first = cues("schedule", "run", str(path), "--at", "2026-11-25T12:00Z")
    assert first.exit_code == 0, first.output
    assert "weekly-stings 2026-11-23T03:00Z: ran, batch" in first.output  # Monday 03:00 London = 03:00 UTC
    second = cues("schedule", "run", str(path), "--at", "2026-11-26T08:00Z")  # same occurrence, later
    assert "2026-11-23T03:00Z: done" in second.output and "already ran" in second.output
    batches = list((store / "batches").iterdir())
    assert len(batches) == 1
    record = json.loads((batches[0] / "batch.json").read_text())
    assert record["occurrence"] == "2026-11-23T03:00Z" and record["schedule"] == "weekly-stings"
    assert sorted(c["cue_id"] for c in record["cues"]) == ["weekly-stings-calm", "weekly-stings-happy"]
    listing = cues("schedule", "list", str(path), "--store", str(store))
    assert "2026-11-23T03:00Z  rendered" in listing.output and "next: " in listing.output


def test_claims_let_one_scheduler_run_an_occurrence_and_expired_claims_are_taken_over(tmp_path):
    import datetime as dt

    from cues.services.scheduler import LEASE, ScheduleState

    state = ScheduleState(open_store(str(tmp_path / "store")), "weekly")
    now = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)
    assert state.claim("2026-11-23T03:00Z", now)
    assert not state.claim("2026-11-23T03:00Z", now + dt.timedelta(minutes=5))  # a second scheduler
    assert state.claim("2026-11-23T03:00Z", now + LEASE + dt.timedelta(minutes=1))  # the first one died


def test_serve_runs_only_the_most_recent_missed_occurrence(ray_session, tmp_path):
    import datetime as dt

    from cues.services.scheduler import ScheduleState, due, read_schedule

    store = tmp_path / "store"
    path = schedule_file(tmp_path, store)
    schedule = read_schedule(path)
    state = ScheduleState(open_store(str(store)), schedule.name)
    now = dt.datetime.now(dt.UTC)
    assert due(schedule, state, now) == (None, 0)  # first sighting: its clock starts now
    # pretend it was first seen five weeks ago and nothing ran since
    (store / "schedules/weekly-stings/state.json").write_text(
        json.dumps({"first_seen": (now - dt.timedelta(weeks=5)).isoformat()})
    )
    when, missed = due(schedule, state, now)
    assert when is not None and missed >= 4
    served = cues("schedule", "serve", str(path), "--store", str(store), "--once")
    assert served.exit_code == 0, served.output
    assert "missed; running the most recent" in served.output and ": ran, batch" in served.output
    assert due(schedule, state, now) == (None, 0)
    assert len(list((store / "batches").iterdir())) == 1


# --- as a Ray Job -------------------------------------------------------------------------------------------


def test_a_job_submission_is_named_after_its_batch_and_carries_local_briefs(tmp_path):
    from cues.schemas.config import GenerateConfig, RenderConfig
    from cues.services.cli.job_submission import _pack_local_sources, entrypoint, submission_id

    briefs = short_briefs(tmp_path, 2)
    config = GenerateConfig(sources=(str(briefs),), store="s3://bucket/cues", workers=4)
    same = GenerateConfig(sources=(str(briefs),), store="s3://elsewhere/x")
    assert submission_id(config) == submission_id(same)  # the batch, not where it goes, names the job
    assert submission_id(config).startswith("cues-b-")
    (tmp_path / "more").mkdir()
    other = GenerateConfig(sources=(str(short_briefs(tmp_path / "more", 3)),))
    assert submission_id(other) != submission_id(config)

    job_dir = tmp_path / "job"
    job_dir.mkdir()
    sources = _pack_local_sources((str(briefs), "s3://bucket/briefs/"), job_dir)
    assert sources == ["briefs-0", "s3://bucket/briefs/"]
    assert (job_dir / "briefs-0" / "briefs.yaml").read_text() == briefs.read_text()
    line = entrypoint(config.model_copy(update={"render": RenderConfig(soundfont="/sf/my font.sf2")}), sources)
    assert line == (
        "python -m cues.services.cli submit briefs-0 s3://bucket/briefs/ --store s3://bucket/cues --workers 4 "
        "--soundfont '/sf/my font.sf2'"
    )
    line = entrypoint(config.model_copy(update={"worker_cpus": 1.0}), ["briefs-0"])
    assert line == "python -m cues.services.cli submit briefs-0 --store s3://bucket/cues --workers 4 --worker-cpus 1"


def test_as_job_needs_a_cluster_address(tmp_path, monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    result = cues("submit", str(short_briefs(tmp_path, 1)), "--as-job", "--store", str(tmp_path / "store"))
    assert result.exit_code == 1 and "--as-job needs a cluster: set RAY_ADDRESS" in result.output
