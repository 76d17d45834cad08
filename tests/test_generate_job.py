"""The main job on the session's real Ray: briefs in, composed and rendered cues and a batch record in a local or S3
store."""

import csv
import hashlib
import json

import numpy as np
import pytest
import soundfile

from cues.pipelines.compose.composer import ComposerModels
from cues.pipelines.compose.midi_file import midi_length_us
from cues.pipelines.generate.brief_sources import EXAMPLES_DIR, read_sources
from cues.pipelines.generate.cue_writer import deliver_cue
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.generate.in_process import fits_in_process
from cues.pipelines.generate.job import makes_in_process, run
from cues.pipelines.generate.workers import WorkerPool
from cues.pipelines.ray_runtime import LocalHead, ray_connected
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.store import open_store
from cues.schemas.batch import read_batch_record
from cues.schemas.brief_file import read_brief_bytes
from cues.schemas.config import GenerateConfig, RayConfig, RenderConfig
from cues.schemas.errors import RenderError, SoundfontMissing
from cues.schemas.manifest import read_manifest

pytestmark = pytest.mark.ray


def brief(text: str):
    [entry] = read_brief_bytes(text.encode(), "x.yaml")
    return entry.brief


def test_variations_and_cutdowns_expand_into_cues():
    cues = expand_cues(
        brief("id: spot\nmedium: ad\nmood: happy\nlength: 60\ncutdowns: [30, 7.5]\nvariations: 2\nseed: 10\n")
    )
    assert [(c.cue_id, c.variation, c.cutdown, c.seed) for c in cues] == [
        ("spot", 1, None, 10),
        ("spot-30s", 1, 30, 10),
        ("spot-7p5s", 1, 7.5, 10),
        ("spot-v2", 2, None, 11),
        ("spot-v2-30s", 2, 30, 11),
        ("spot-v2-7p5s", 2, 7.5, 11),
    ]
    assert cues[0].brief.ending == "button" and cues[0].brief.delivery.loudness == -23.0
    assert all(c.brief is cues[0].brief for c in cues)  # resolved once, shared by every cue of the brief
    assert len({c.content_hash() for c in cues}) == 6


def test_a_cue_knows_its_length_before_it_is_planned():
    timed = expand_cues(brief("id: a\nmedium: ad\nmood: happy\nlength: 16 bars\ntempo: 120\ncutdowns: [12.5]\n"))
    assert [c.length_estimate_s() for c in timed] == [32.0, 12.5]  # 16 bars of 4/4 at 120 bpm
    [untimed] = expand_cues(brief("id: b\nmedium: ad\nmood: happy\nlength: 8 bars\nmeter: 3/4\n"))
    assert untimed.length_estimate_s() == pytest.approx(8 * 3 * 60 * (1 / 40 + 1 / 220) / 2)  # the tempo range's middle


def test_a_small_batch_with_no_ray_to_use_is_made_in_the_driver(monkeypatch):
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    cues = expand_cues(brief("id: s\nmedium: ad\nmood: happy\nlength: 60\ncutdowns: [30, 15]\n"))  # 105 s
    assert fits_in_process(cues, 120.0) and not fits_in_process(cues, 100.0) and not fits_in_process(cues, 0)
    config = GenerateConfig(sources=("x",))
    if not ray_connected():  # joining the session's Ray, when this process has one, costs nothing
        assert makes_in_process(config, cues, None)
    assert not makes_in_process(config.model_copy(update={"ray": RayConfig(in_process_max_s=0)}), cues, None)  # --ray
    assert not makes_in_process(config.model_copy(update={"ray": RayConfig(address="10.0.0.1:6379")}), cues, None)
    assert not makes_in_process(config.model_copy(update={"ray": RayConfig(num_cpus=1)}), cues, None)
    assert not makes_in_process(config.model_copy(update={"workers": 2}), cues, None)
    head = LocalHead(address="127.0.0.1:6379", pid=1, temp_dir="/tmp/cues-ray", cpus=2, object_store_memory=1)
    assert not makes_in_process(config, cues, head)  # `cues up` runs: its warm workers serve the batch
    monkeypatch.setenv("RAY_ADDRESS", "10.0.0.1:6379")
    assert not makes_in_process(config, cues, None)


def test_job_composes_the_examples_into_a_local_store_and_a_rerun_skips_them(ray_session, tmp_path):
    store_path = tmp_path / "store"
    record = run(GenerateConfig(sources=(str(EXAMPLES_DIR),), store=str(store_path)))
    assert [b.ok for b in record.briefs] == [True] * 9
    # sunrise-coffee-60: 2 variations x (60 + 3 cutdowns) = 8; the other 8 briefs one cue each
    assert len(record.cues) == len(record.results) == 16
    assert record.status == "rendered" and not record.failed_cues
    assert set(record.models) == {"melody", "vae", "chords", "critic"}
    saved = read_batch_record((store_path / record.key).read_bytes())
    assert saved == record  # the record reads back as it was written
    for result in record.results:
        folder = store_path / result.prefix
        manifest = read_manifest((folder / "manifest.json").read_bytes())
        assert manifest.version == 2 and manifest.prefix == result.prefix and manifest.cue_id == result.cue_id
        assert ("cue.mid" in manifest.files) == ("midi" in manifest.brief.delivery.formats)
        if "cue.mid" in manifest.files:
            midi = (folder / "cue.mid").read_bytes()
            assert manifest.files["cue.mid"].sha256 == hashlib.sha256(midi).hexdigest()
            assert midi_length_us(midi) == round(manifest.plan.length_s * 1e6)
        else:
            assert not (folder / "cue.mid").exists()
        assert manifest.quality["in_key_rate"] >= 0.9 and manifest.models == record.models
        # every file the manifest lists is there with its hash; the mix is at the brief's loudness
        for name, entry in manifest.files.items():
            assert hashlib.sha256((folder / name).read_bytes()).hexdigest() == entry.sha256, name
        delivery = manifest.brief.delivery
        mix = manifest.files["mix.wav"]
        assert manifest.mix == mix and result.audio.loudness_lufs == mix.loudness_lufs
        assert abs(mix.loudness_lufs - delivery.loudness) <= 0.5 and mix.true_peak_dbtp <= -1.0
        stems = {name for name in manifest.files if name.startswith("stems/") and name.endswith(".wav")}
        assert stems == {f"stems/{name}.wav" for name in manifest.audio.stems}  # as delivery.stems names them
        carried = [group for stem in manifest.audio.stems.values() for group in stem.groups]
        assert sorted(carried) == sorted(s.name for s in manifest.plan.stems)  # every sounding role group, once
        if manifest.brief_id == "the-last-watch-teaser-trailer":  # the example that groups its stems
            assert set(manifest.audio.stems) | set(manifest.audio.absent_stems) == {"tune", "orchestra", "rhythm", "fx"}
        assert ("preview.mp3" in manifest.files) == ("mp3" in delivery.formats)
        assert ("mix.flac" in manifest.files) == ("flac" in delivery.formats)
        assert manifest.files["mix.wav"].content_type == "audio/wav"
        stages = ["compose_s", "quality_s", "synth_s", "mix_s", "balance_s", "master_s", "encode_s", "pianoroll_s"]
        stages += ["stingers_s"] if manifest.audio.stingers else []
        stages += ["upload_s"]
        assert list(manifest.timings_s) == stages and all(t >= 0 for t in manifest.timings_s.values())
        balance = manifest.audio.balance  # the lead-on-top faders, one per section of the plan
        assert balance.lead == "melody" and len(balance.sections) == len(manifest.plan.sections)
        assert all(s.balanced_margin_db is None or -3 <= s.balanced_margin_db <= 3 for s in balance.sections)
        if manifest.plan.ending != "ring_out":
            assert mix.samples == round(manifest.plan.length_s * delivery.sample_rate)
        if manifest.plan.ending == "loop":  # the game cue: played end to start, no click
            audio, _ = soundfile.read(str(folder / "mix.wav"))
            seam = np.abs(audio[0] - audio[-1])
            assert (seam <= np.percentile(np.abs(np.diff(audio, axis=0)), 99, axis=0)).all()
    chase = next(r for r in record.results if r.cue_id == "night-chase")
    assert chase.quality["hit_error_max_ms"] < 10
    again = run(GenerateConfig(sources=(str(EXAMPLES_DIR),), store=str(store_path)))
    assert again.batch_id == record.batch_id  # same briefs, same batch
    assert all(r.skipped for r in again.results)
    assert [r.audio for r in again.results] == [r.audio for r in record.results]  # read back from the manifests


def test_job_reports_invalid_briefs_and_delivers_the_rest_to_s3(ray_session, s3_bucket, tmp_path):
    (tmp_path / "briefs.yaml").write_text(
        "id: good\nmedium: tv\nmood: calm\nlength: 20\n---\nid: bad\nmedium: tv\nmood: calm\nlength: 2000\n"
    )
    uri = f"s3://{s3_bucket}/runs"
    record = run(GenerateConfig(sources=(str(tmp_path / "briefs.yaml"),), store=uri))
    assert [(b.brief, b.ok) for b in record.briefs] == [("good", True), ("bad", False)]
    assert "length: length out of range" in record.failures[0].error
    store = open_store(uri)
    saved = read_batch_record(store.get_bytes(record.key))
    assert [c.cue_id for c in saved.cues] == ["good"]
    [result] = record.results
    assert result.ok and store.exists(f"{result.prefix}/manifest.json") and store.exists(f"{result.prefix}/cue.mid")


def test_a_cue_that_fails_is_reported_and_the_others_are_delivered(ray_session, tmp_path):
    good = expand_cues(brief("id: fine\nmedium: ad\nmood: happy\nlength: 8\n"))
    # A brief the planner cannot meet (built past validation, which refuses it): its composer raises, the batch goes on.
    sections = brief("medium: ad\nmood: happy\nlength: 30\nform: AABA\n").form
    three_seconds = brief("medium: ad\nmood: happy\nlength: 3\n").length
    impossible = good[0].brief.model_copy(update={"form": sections, "length": three_seconds})
    broken = good[0].model_copy(update={"cue_id": "broken", "brief": impossible})
    with WorkerPool(1, str(tmp_path / "store"), None, RenderConfig()) as pool:
        versions = pool.versions()
        results = pool.deliver([*good, broken])
    assert [(r.cue_id, r.ok) for r in results] == [("fine", True), ("broken", False)]
    assert "the form A-A-B-A needs at least 4 bars" in results[1].error
    assert set(versions) == {"melody", "vae", "chords", "critic"}
    assert not (tmp_path / "store" / "cues" / "broken").exists()


def test_the_pool_makes_the_same_cues_as_making_them_one_by_one(ray_session, tmp_path):
    """Two cues in flight on a worker, handed out longest first: the same render keys, notes and samples, and each
    result under its own cue."""
    cues = [
        c
        for text in (
            "id: one\nmedium: ad\nmood: happy\nlength: 8\ncutdowns: [4]\n",
            "id: two\nmedium: game\nmood: calm\nlength: 6\n",
        )
        for c in expand_cues(brief(text))
    ]
    with WorkerPool(1, str(tmp_path / "pooled"), None, RenderConfig()) as pool:
        pooled = pool.deliver(cues)
    alone = open_store(str(tmp_path / "alone"))
    with CueRenderer() as renderer:
        models = ComposerModels.load()
        sequential = [deliver_cue(alone, spec, models, renderer) for spec in cues]

    def heard(store_path, result) -> dict:
        """Every file's content by what does not carry a creation time: WAVs by their samples, the rest by hash."""
        prefix = tmp_path / store_path / result.prefix
        files = read_manifest((prefix / "manifest.json").read_bytes()).files
        return {
            name: soundfile.read(prefix / name, dtype="int32")[0].tobytes() if name.endswith(".wav") else info.sha256
            for name, info in files.items()
        }

    assert [r.key for r in pooled] == [r.key for r in sequential]
    for mine, theirs in zip(pooled, sequential, strict=True):
        assert heard("pooled", mine) == heard("alone", theirs), mine.cue_id


def test_a_missing_soundfont_stops_the_job_before_any_work_with_what_to_install(ray_session, tmp_path):
    missing = RenderConfig(soundfont=str(tmp_path / "none.sf2"))
    with pytest.raises(SoundfontMissing, match="apt-get install fluid-soundfont-gm"):
        run(GenerateConfig(sources=(str(EXAMPLES_DIR),), store=str(tmp_path / "store"), render=missing))
    assert not (tmp_path / "store" / "cues").exists()
    # on a cluster the workers find out: their error reaches the user too
    with pytest.raises(RenderError, match="the cue workers could not start: .*none.sf2.* does not exist"):
        with WorkerPool(1, str(tmp_path / "store"), None, missing) as pool:
            pool.versions()


def test_briefs_are_read_from_s3(s3_bucket):
    store = open_store(f"s3://{s3_bucket}/briefs")
    for path in sorted(EXAMPLES_DIR.glob("*.yaml")):
        store.put_bytes(f"library/{path.name}", path.read_bytes())
    store.put_bytes("library/broken.yaml", b"medium: [")
    entries = read_sources([f"s3://{s3_bucket}/briefs/library/"])
    assert sum(e.ok for e in entries) == 9
    [bad] = [e for e in entries if not e.ok]
    assert str(bad.error).startswith(f"s3://{s3_bucket}/briefs/library/broken.yaml: malformed YAML")
    [single] = read_sources([f"s3://{s3_bucket}/briefs/library/film-night-chase.yaml"])
    assert single.brief.id == "night-chase"


def test_every_reader_agrees_on_a_flac_only_cue_with_a_cutdown_in_bars(ray_session, tmp_path):
    """The fixed reader disagreements, end to end: a FLAC master's loudness reaches the cue sheet, the report and
    `cues ls`; a cutdown given in bars is named in bars; a brief without `midi` gets no MIDI file."""
    from typer.testing import CliRunner

    from cues.services.cli.app import app

    (tmp_path / "flac.yaml").write_text(
        "id: flacky\nmedium: ad\nmood: happy\nlength: 16 bars\ntempo: 120\ncutdowns: [8 bars]\n"
        "delivery: {formats: [flac, mp3]}\n"
    )
    store_path = tmp_path / "store"
    record = run(GenerateConfig(sources=(str(tmp_path / "flac.yaml"),), store=str(store_path)))
    assert [(r.cue_id, r.ok) for r in record.results] == [("flacky", True), ("flacky-8bars", True)]
    manifests = {
        r.cue_id: read_manifest((store_path / r.prefix / "manifest.json").read_bytes()) for r in record.delivered
    }
    for result in record.results:
        manifest = manifests[result.cue_id]
        assert "mix.flac" in manifest.files and "mix.wav" not in manifest.files and "cue.mid" not in manifest.files
        assert not (store_path / result.prefix / "cue.mid").exists()
        assert manifest.mix.loudness_lufs is not None and result.audio.loudness_lufs == manifest.mix.loudness_lufs
    assert manifests["flacky-8bars"].cutdown == "8 bars"

    rows = list(csv.DictReader((store_path / record.folder / "cuesheet.csv").open(newline="")))
    assert [(r["cue_id"], r["cutdown"]) for r in rows] == [("flacky", ""), ("flacky-8bars", "8 bars")]
    for row in rows:
        assert float(row["loudness_lufs"]) == manifests[row["cue_id"]].mix.loudness_lufs
        assert not any(key.endswith(("cue.mid", "mix.wav")) for key in row["files"].split(";"))
    page = (store_path / record.folder / "report.html").read_text()
    assert '<span class="dim">cutdown</span> 8 bars</span>' in page and "— s" not in page
    assert f"{manifests['flacky'].mix.loudness_lufs:.1f} LUFS" in page
    listed = CliRunner().invoke(app, ["ls", "--store", str(store_path), "--format", "json"])
    assert {r["cue_id"]: r["loudness_lufs"] for r in json.loads(listed.output)} == {
        cue_id: m.mix.loudness_lufs for cue_id, m in manifests.items()
    }


def test_a_manifest_of_the_previous_version_reads_and_a_tampered_one_is_refused(ray_session, tmp_path):
    from typer.testing import CliRunner

    from cues.services.cli.app import app

    (tmp_path / "b.yaml").write_text("id: old\nmedium: ad\nmood: calm\nlength: 6\n")
    store_path = tmp_path / "store"
    [result] = run(GenerateConfig(sources=(str(tmp_path / "b.yaml"),), store=str(store_path))).results
    path = store_path / result.prefix / "manifest.json"
    current = json.loads(path.read_text())
    # version 1 (before 2026-12): the same fields, without ``version`` and the files' ``content_type``
    v1 = {k: v for k, v in current.items() if k != "version"}
    v1["files"] = {name: {k: v for k, v in entry.items() if k != "content_type"} for name, entry in v1["files"].items()}
    path.write_text(json.dumps(v1))
    shown = CliRunner().invoke(app, ["show", "old", "--store", str(store_path)])
    assert shown.exit_code == 0 and "old" in shown.output, shown.output
    assert read_manifest(path.read_bytes()).version == 1

    path.write_text(json.dumps({**current, "version": 3}))
    newer = CliRunner().invoke(app, ["show", "old", "--store", str(store_path)])
    assert newer.exit_code == 1
    assert "is manifest version 3, newer than this cues reads (2): upgrade cues" in newer.output

    path.write_text(json.dumps({**current, "cue_id": "../../escaped"}))
    escaped = CliRunner().invoke(app, ["get", "old", "--store", str(store_path), "-o", str(tmp_path / "out")])
    assert escaped.exit_code == 1 and "is not a valid cue manifest: cue_id" in escaped.output
    path.write_text(json.dumps({**current, "cue_id": "other"}))
    moved = CliRunner().invoke(app, ["show", "old", "--store", str(store_path)])
    assert moved.exit_code == 1 and "names cue other/" in moved.output and "not its folder" in moved.output
    assert not (tmp_path / "out").exists()
