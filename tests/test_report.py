"""The batch report, the cue sheet and the piano roll, on a tiny real store built in code: a MIDI file made
with mido, real WAV and MP3 files, and manifests carrying the fields the report reads. The page is opened in a
real headless Chromium to check that every player and image actually loads."""

from __future__ import annotations

import csv
import hashlib
import html
import io
import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import lameenc
import mido
import numpy as np
import pytest
import soundfile
from PIL import Image

from cues.pipelines.report.cuesheet import COLUMNS, cuesheet_csv
from cues.pipelines.report.pianoroll import pianoroll_png, read_stem_notes
from cues.pipelines.report.report_html import relative_link, report_html
from cues.schemas.errors import MidiReadError, StoreURIError
from tests.browser import media_load_report

PPQ = 480
SAMPLE_RATE = 48_000
BATCH_ID = "b-test0001"
REPORT_KEY = f"batches/{BATCH_ID}/report.html"
EVIL_TITLE = '<script>alert("owned")</script> & "Chase"'
PLAN = {
    "key": "D minor",
    "meter": "4/4",
    "tempo_bpm": 120.0,
    "length_s": 6.0,
    "ending": "button",
    "tempo_map": [
        {"step": 0, "bar": 1.0, "start_s": 0.0, "bpm": 120.0},
        {"step": 16, "bar": 2.0, "start_s": 2.0, "bpm": 60.0},
    ],
    "sections": [
        {"label": "A", "name": "A", "start_s": 0.0, "end_s": 2.0, "bars": 1, "intensity": 0.5},
        {"label": "B", "name": "B", "start_s": 2.0, "end_s": 6.0, "bars": 1, "intensity": 0.8},
    ],
    "hits": [{"requested_s": 2.0, "achieved_s": 2.0, "error_ms": 0.0, "bar": 2, "beat": 1, "placement": "downbeat"}],
    "stems": [
        {"name": "melody", "program": 0, "channel": 0, "instrument": "Acoustic Grand Piano"},
        {"name": "bass", "program": 33, "channel": 1, "instrument": "Electric Bass (finger)"},
        {"name": "drums", "program": 0, "channel": 9, "instrument": "Standard kit"},
    ],
}


def tiny_midi() -> bytes:
    """Two bars of 4/4: bar 1 at 120 bpm (2 s), bar 2 at 60 bpm (4 s); melody, bass, and drums on channel 10."""
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),
            mido.MetaMessage("set_tempo", tempo=1_000_000, time=4 * PPQ),
            mido.MetaMessage("end_of_track", time=4 * PPQ),
        ]
    )
    parts = {
        "melody": (0, [(beat * PPQ, PPQ, 62 + 2 * beat) for beat in range(8)]),
        "bass": (1, [(0, 4 * PPQ, 38), (4 * PPQ, 4 * PPQ, 45)]),
        "drums": (9, [(beat * PPQ, PPQ // 4, 36 if beat % 2 == 0 else 38) for beat in range(8)]),
    }
    midi = mido.MidiFile(type=1, ticks_per_beat=PPQ)
    midi.tracks.append(conductor)
    for name, (channel, notes) in parts.items():
        timed = []
        for start, length, pitch in notes:
            timed.append((start + length, 0, mido.Message("note_off", channel=channel, note=pitch)))
            timed.append((start, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=90)))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        now = 0
        for tick, _, message in sorted(timed, key=lambda t: (t[0], t[1])):
            track.append(message.copy(time=tick - now))
            now = tick
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


def tone(seconds: float = 1.0, hz: float = 440.0) -> np.ndarray:
    """A stereo sine at -12 dBFS, float32 (frames, 2)."""
    t = np.arange(round(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    mono = 0.25 * np.sin(2 * np.pi * hz * t)
    return np.column_stack([mono, mono]).astype(np.float32)


def wav_bytes(audio: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    soundfile.write(buffer, audio, SAMPLE_RATE, subtype="PCM_24", format="WAV")  # 24-bit, like our masters
    return buffer.getvalue()


def mp3_bytes(audio: np.ndarray) -> bytes:
    encoder = lameenc.Encoder()
    encoder.set_bit_rate(128)
    encoder.set_in_sample_rate(SAMPLE_RATE)
    encoder.set_channels(2)
    encoder.set_quality(2)
    pcm = (audio * 32767).astype("<i2").tobytes()  # interleaved int16
    return bytes(encoder.encode(pcm) + encoder.flush())


def write_cue(root: Path, cue_id: str, render_key: str, *, title: str | None, preview: bool, roll: bool, **extra):
    """A cue folder as the renderer leaves it, and its manifest (with the fields the report reads)."""
    prefix = f"cues/{cue_id}/{render_key}"
    midi = tiny_midi()
    contents = {"cue.mid": midi, "plan.json": json.dumps(PLAN).encode()}
    for index, stem in enumerate(("melody", "bass", "drums")):
        contents[f"stems/{stem}.wav"] = wav_bytes(tone(hz=220.0 * (index + 1)))
    contents["mix.wav"] = wav_bytes(tone())
    if preview:
        contents["preview.mp3"] = mp3_bytes(tone())
    if roll:
        contents["pianoroll.png"] = pianoroll_png(midi, PLAN)
    files = {}
    for name, data in contents.items():
        path = root / prefix / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[name] = {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    files["mix.wav"].update(loudness_lufs=-23.0, true_peak_dbtp=-1.5)
    brief = {"id": "chase", "medium": "film", "mood": ["tense", "dark"], "key": "D minor", "ending": "button"}
    if title is not None:
        brief["title"] = title
    manifest = {
        "cue_id": cue_id,
        "cue_key": render_key,
        "brief_id": "chase",
        "variation": 1,
        "cutdown": None,
        "seed": 7,
        "created": "2026-01-02T03:04:05+00:00",
        "length_s": 6.0,
        "brief": brief,
        "plan": PLAN,
        "quality": {
            "in_key_rate": 0.987,
            "key_estimate": {"tonic": "D", "mode": "minor", "correlation": 0.81},
            "key_match": True,
            "hits": [{"requested_s": 2.0, "accent_s": 2.0, "error_ms": 0.0}],
            "hit_error_max_ms": 0.0,
        },
        "audio": {
            "duration_s": 1.0,
            "samples": SAMPLE_RATE,
            "sample_rate": SAMPLE_RATE,
            "bit_depth": 24,
            "gain_db": 3.2,
            "limiter": {"engaged": True, "max_gain_reduction_db": 1.25},
            "silent_stems": [],
            "soundfont": {"name": "TimGM6mb"},
        },
        "files": files,
        **extra,
    }
    (root / prefix / "manifest.json").write_text(json.dumps(manifest))
    return manifest, prefix


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Path, dict, dict[str, dict]]:
    """A store with two rendered cues, one failed cue and one invalid brief; returns (root, batch, manifests)."""
    root = tmp_path_factory.mktemp("store")
    chase, chase_prefix = write_cue(root, "night-chase", "k-aaa111", title=EVIL_TITLE, preview=True, roll=True)
    short, short_prefix = write_cue(
        root, "night-chase-15s", "k-bbb222", title=None, preview=False, roll=False, cutdown=15.0, variation=2
    )
    results = [
        {"cue_id": "night-chase", "key": "k-aaa111", "prefix": chase_prefix, "ok": True, "skipped": False},
        {"cue_id": "night-chase-15s", "key": "k-bbb222", "prefix": short_prefix, "ok": True, "skipped": True},
        {"cue_id": "night-chase-v2", "key": "", "prefix": "", "ok": False, "skipped": False, "error": "<b>boom</b>"},
    ]
    for result in results:
        result.setdefault("error", None)
        result.update(length_s=6.0, quality={}, audio={"duration_s": 1.0} if result["ok"] else {})
    batch = {
        "batch_id": BATCH_ID,
        "status": "rendered with failures",
        "created": "2026-01-02T03:04:05+00:00",
        "briefs": [
            {"source": "briefs/chase.yaml", "position": 1, "brief": "chase", "ok": True, "cues": 3, "error": None},
            {"source": "briefs/bad.yaml", "position": 1, "brief": "#1", "ok": False, "error": "length: too short"},
        ],
        "cues": [],
        "results": results,
    }
    (root / "batches" / BATCH_ID).mkdir(parents=True)
    return root, batch, {"night-chase": chase, "night-chase-15s": short}


def write_report(root: Path, batch: dict, manifests: dict[str, dict]) -> Path:
    path = root / REPORT_KEY
    path.write_text(report_html(batch, manifests, relative_link(REPORT_KEY)), encoding="utf-8")
    return path


# --- piano roll -----------------------------------------------------------------------------------------------


def test_notes_are_timed_through_the_tempo_map():
    stems, end_s = read_stem_notes(tiny_midi(), PLAN)
    assert [s.name for s in stems] == ["melody", "bass", "drums"]
    assert [s.drums for s in stems] == [False, False, True]
    assert end_s == 6.0
    # beats 1–4 at 120 bpm (0.5 s each), beats 5–8 at 60 bpm (1 s each)
    assert stems[0].starts.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0]
    assert stems[1].starts.tolist() == [0.0, 2.0] and stems[1].ends.tolist() == [2.0, 6.0]
    assert stems[0].label == "melody (Acoustic Grand Piano)"


def test_pianoroll_is_a_png_of_the_requested_width_and_reproducible():
    midi = tiny_midi()
    first = pianoroll_png(midi, PLAN, width_px=800)
    image = Image.open(io.BytesIO(first))
    image.load()
    assert image.format == "PNG" and image.size == (800, 300)
    assert pianoroll_png(midi, PLAN, width_px=800) == first
    assert Image.open(io.BytesIO(pianoroll_png(midi, {}))).size == (1200, 450)  # a plan without anything


def test_pianoroll_rejects_bad_input():
    with pytest.raises(ValueError, match=r"^width_px must be an integer in \[600, 8000\], got 100$"):
        pianoroll_png(tiny_midi(), PLAN, width_px=100)
    with pytest.raises(MidiReadError, match="^not a readable MIDI file"):
        pianoroll_png(b"RIFF not midi", PLAN)


# --- cue sheet ------------------------------------------------------------------------------------------------


def test_cuesheet_has_one_row_per_cue_with_its_values(store):
    root, batch, manifests = store
    prefixes = {r["cue_id"]: r["prefix"] for r in batch["results"]}
    text = cuesheet_csv(list(manifests.values()), prefixes)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    rows = list(reader)
    assert tuple(reader.fieldnames) == COLUMNS
    assert [r["cue_id"] for r in rows] == ["night-chase", "night-chase-15s"]
    chase, short = rows
    assert chase["title"] == EVIL_TITLE and short["title"] == ""
    assert (chase["brief_id"], chase["medium"], chase["mood"]) == ("chase", "film", "tense/dark")
    assert (chase["key"], chase["tempo_bpm"], chase["meter"], chase["ending"]) == ("D minor", "120.0", "4/4", "button")
    assert (chase["duration_s"], chase["loudness_lufs"], chase["true_peak_dbtp"]) == ("1.0", "-23.0", "-1.5")
    assert (chase["variation"], chase["cutdown"], short["variation"], short["cutdown"]) == ("1", "", "2", "15.0")
    assert (chase["render_key"], short["render_key"]) == ("k-aaa111", "k-bbb222")
    keys = chase["files"].split(";")
    assert keys[0] == "cues/night-chase/k-aaa111/cue.mid" and keys[-1] == "cues/night-chase/k-aaa111/manifest.json"
    assert "cues/night-chase/k-aaa111/preview.mp3" in keys
    for row in rows:
        for key in row["files"].split(";"):
            assert (root / key).is_file(), key


def test_cuesheet_names_a_manifest_without_ids():
    with pytest.raises(ValueError, match=r"^manifest of cue 'x' has no cue_id or cue_key; is it a cue manifest\?$"):
        cuesheet_csv([{"cue_id": "x"}], {})


# --- the page -------------------------------------------------------------------------------------------------


class _Links(HTMLParser):
    """Every src= and href= of a page, and its <script> elements."""

    def __init__(self):
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.links.extend((tag, value) for name, value in attrs if name in ("src", "href") and value)


def test_report_escapes_what_briefs_and_errors_say(store):
    root, batch, manifests = store
    page = report_html(batch, manifests, relative_link(REPORT_KEY))
    assert "<script>alert" not in page and "<b>boom</b>" not in page
    assert html.escape(EVIL_TITLE) in page and "&lt;b&gt;boom&lt;/b&gt;" in page
    parser = _Links()
    parser.feed(page)
    assert parser.scripts == 1  # only the page's own player script


def test_report_header_counts_and_failures(store):
    _, batch, manifests = store
    page = report_html(batch, manifests, relative_link(REPORT_KEY))
    assert "<b>1</b> rendered" in page and "<b>1</b> already in the store" in page and "<b>1</b> failed" in page
    assert "<b>0.0</b> min of audio" in page  # two one-second cues
    assert 'id="failures"' in page and "length: too short" in page and "night-chase-v2" in page


def test_every_link_of_the_report_reaches_a_file(store):
    root, batch, manifests = store
    report = write_report(root, batch, manifests)
    parser = _Links()
    parser.feed(report.read_text(encoding="utf-8"))
    files = [(tag, link) for tag, link in parser.links if not link.startswith("#")]
    for _, link in files:
        assert (report.parent / unquote(link)).resolve().is_file(), link
    assert ("audio", "../../cues/night-chase/k-aaa111/preview.mp3") in files
    assert ("audio", "../../cues/night-chase-15s/k-bbb222/mix.wav") in files  # no preview: the master plays
    assert [link for tag, link in files if tag == "img"] == ["../../cues/night-chase/k-aaa111/pianoroll.png"]
    assert ("a", "../../cues/night-chase/k-aaa111/stems/drums.wav") in files


def test_relative_link_and_its_errors():
    link = relative_link("batches/b-1/report.html")
    assert link("cues/a b/k-1/mix.wav") == "../../cues/a%20b/k-1/mix.wav"
    assert relative_link("report.html")("cues/x/k/mix.wav") == "cues/x/k/mix.wav"
    with pytest.raises(StoreURIError, match=r"^bad report key '\.\./r\.html': has a '\.' or '\.\.' part"):
        relative_link("../r.html")
    with pytest.raises(StoreURIError, match=r"^bad key '/etc/passwd': absolute"):
        link("/etc/passwd")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Chromium (Debian package 'chromium')")
def test_report_players_and_images_load_in_chromium(store, tmp_path):
    root, batch, manifests = store
    page = write_report(root, batch, manifests)
    report = media_load_report(page, tmp_path)
    assert report["bad"] == [] and not report["timed_out"], report
    assert [src for src, _ in report["images"]] == ["../../cues/night-chase/k-aaa111/pianoroll.png"]
    assert report["images"][0][1] == 1200
    assert len(report["audio"]) == 2
    for src, duration in report["audio"]:
        assert 0.9 < duration < 1.2, (src, duration)  # one second of audio, give or take the MP3's padding
