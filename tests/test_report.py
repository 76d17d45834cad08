"""The batch report, the cue sheet and the piano roll, on a tiny real store built in code: a MIDI file made
with mido, real WAV and MP3 files, and typed manifests and a batch record built from the contract's models. The
page is opened in a real headless Chromium to check that every player and image actually loads."""

from __future__ import annotations

import csv
import hashlib
import html
import io
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

from cues.pipelines.compose.plan import make_plan
from cues.pipelines.render.waveform import waveform_peaks
from cues.pipelines.report.cuesheet import COLUMNS, cuesheet_csv
from cues.pipelines.report.pianoroll import pianoroll_png, read_stem_notes
from cues.pipelines.report.report_html import relative_link, report_html
from cues.schemas.batch import BatchRecord, BriefOutcome, CueResult
from cues.schemas.brief import Brief
from cues.schemas.errors import MidiReadError, StoreURIError
from cues.schemas.manifest import CueManifest, FileEntry
from cues.schemas.plan import Plan
from tests.browser import media_load_report

PPQ = 480
SAMPLE_RATE = 48_000
BATCH_ID = "b-0123456789ab"
REPORT_KEY = f"batches/{BATCH_ID}/report.html"
EVIL_TITLE = '<script>alert("owned")</script> & "Chase"'
BRIEF = Brief.model_validate(
    {"id": "chase", "medium": "film", "mood": ["tense", "dark"], "length": 6, "key": "D minor", "ending": "button"}
).resolve()
# A real plan of the brief, with the stems, sections, hits and tempo map of the tiny MIDI file below.
PLAN_OF_TINY_MIDI = {
    "key": "D minor",
    "meter": "4/4",
    "tempo_bpm": 120.0,
    "length_s": 6.0,
    "ending": "button",
    "tempo_map": [
        {"step": 0, "bar": 1.0, "start_s": 0.0, "bpm": 120.0},
        {"step": 16, "bar": 2.0, "start_s": 2.0, "bpm": 60.0},
    ],
    "bars": 2,
    "sections": [
        {"label": "A", "name": "A", "primes": 0, "start_bar": 0, "start_s": 0.0, "end_s": 2.0, "bars": 1,
         "intensity": 0.5},
        {"label": "B", "name": "B", "primes": 0, "start_bar": 1, "start_s": 2.0, "end_s": 6.0, "bars": 1,
         "intensity": 0.8},
    ],
    "hits": [
        {
            "requested_s": 2.0,
            "achieved_s": 2.0,
            "error_ms": 0.0,
            "bar": 2,
            "beat": 1,
            "step": 16,
            "placement": "downbeat",
            "achievable": True,
        }
    ],
    "stems": [
        {"name": "melody", "program": 0, "channel": 0, "instrument": "Acoustic Grand Piano"},
        {"name": "bass", "program": 33, "channel": 1, "instrument": "Electric Bass (finger)"},
        {"name": "drums", "program": 0, "channel": 9, "instrument": "Standard kit"},
    ],
}
PLAN = Plan.model_validate({**make_plan(BRIEF, 7).model_dump(mode="json"), **PLAN_OF_TINY_MIDI})
AUDIO = {
    "sample_rate": SAMPLE_RATE,
    "bit_depth": 24,
    "samples": SAMPLE_RATE,
    "duration_s": 1.0,
    "stems": {name: {"silent": False, "midi_channel": ch} for name, ch in (("melody", 1), ("bass", 2), ("drums", 10))},
    "silent_stems": [],
    "renderer": "render-1",
    "soundfont": {"name": "TimGM6mb", "sha256": "0" * 64},
    "synth": {},
    "ending": "button",
    "length_samples": SAMPLE_RATE,
    "tail_samples": 0,
    "gain_db": 3.2,
    "stem_trim_db": 0.0,
    "limiter": {"engaged": True, "ceiling_dbtp": -1.0, "max_gain_reduction_db": 1.25, "passes": 1},
    "loudness_target_lufs": -23.0,
    "true_peak_ceiling_dbtp": -1.0,
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


def write_cue(
    root: Path,
    cue_id: str,
    render_key: str,
    *,
    title: str | None,
    preview: bool,
    roll: bool,
    master="mix.wav",
    seconds: float = 1.0,
    **extra,
) -> CueManifest:
    """A cue folder as the renderer leaves it, and its manifest; ``master`` is mix.wav or mix.flac, and its audio
    (mix and stems) lasts ``seconds``."""
    prefix = f"cues/{cue_id}/{render_key}"
    midi = tiny_midi()
    contents = {"cue.mid": midi, "plan.json": PLAN.model_dump_json().encode()}
    for index, stem in enumerate(("melody", "bass", "drums")):
        contents[f"stems/{stem}.wav"] = wav_bytes(tone(seconds, hz=220.0 * (index + 1)))
    contents[master] = wav_bytes(tone(seconds))
    if preview:
        contents["preview.mp3"] = mp3_bytes(tone())
    if roll:
        contents["pianoroll.png"] = pianoroll_png(midi, PLAN)
    files = {}
    for name, data in contents.items():
        path = root / prefix / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        numbers = {"loudness_lufs": -23.0, "true_peak_dbtp": -1.5} if name == master else {}
        files[name] = FileEntry(bytes=len(data), sha256=hashlib.sha256(data).hexdigest(), **numbers)
    manifest = CueManifest(
        version=2,
        cue_id=cue_id,
        cue_key=render_key,
        brief_id="chase",
        variation=extra.get("variation", 1),
        cutdown=extra.get("cutdown"),
        seed=7,
        created="2026-01-02T03:04:05+00:00",
        length_s=6.0,
        brief=BRIEF.model_copy(update={"title": title}),
        plan=PLAN,
        chords=("i", "V"),
        models={},
        composer_version="compose-1",
        quality={
            "in_key_rate": 0.987,
            "key_estimate": {"tonic": "D", "mode": "minor", "correlation": 0.81},
            "key_match": True,
            "hits": [{"requested_s": 2.0, "accent_s": 2.0, "error_ms": 0.0}],
            "hit_error_max_ms": 0.0,
        },
        audio={
            **AUDIO,
            "samples": round(seconds * SAMPLE_RATE),
            "duration_s": seconds,
            "waveform": waveform_peaks(tone(seconds).T, SAMPLE_RATE),
        },
        timings_s={},
        files=files,
    )
    (root / prefix / "manifest.json").write_bytes(manifest.to_json())
    return manifest


def delivered(manifest: CueManifest, skipped: bool = False) -> CueResult:
    return CueResult.delivered(manifest, skipped=skipped)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tuple[Path, BatchRecord, dict[str, CueManifest]]:
    """A store with two rendered cues, one failed cue and one invalid brief; returns (root, batch, manifests)."""
    root = tmp_path_factory.mktemp("store")
    chase = write_cue(root, "night-chase", "k-aaa111aaa111", title=EVIL_TITLE, preview=True, roll=True)
    short = write_cue(
        root, "night-chase-15s", "k-bbb222bbb222", title=None, preview=False, roll=False, cutdown=15.0, variation=2
    )
    batch = BatchRecord(
        batch_id=BATCH_ID,
        status="rendered with failures",
        created="2026-01-02T03:04:05+00:00",
        code_version="0.1.0",
        store=root.as_uri(),
        sources=("briefs/",),
        briefs=(
            BriefOutcome(source="briefs/chase.yaml", position=1, brief="chase", ok=True, cues=3),
            BriefOutcome(source="briefs/bad.yaml", position=1, brief="#1", ok=False, error="length: too short"),
        ),
        cues=(),
        results=(delivered(chase), delivered(short, skipped=True), CueResult.failed("night-chase-v2", "<b>boom</b>")),
    )
    (root / "batches" / BATCH_ID).mkdir(parents=True)
    return root, batch, {"night-chase": chase, "night-chase-15s": short}


def write_report(root: Path, batch: BatchRecord, manifests: dict[str, CueManifest]) -> Path:
    """The batch's report.html and the cue sheet it links to."""
    prefixes = {r.cue_id: r.prefix for r in batch.delivered}
    (root / batch.folder / "cuesheet.csv").write_text(cuesheet_csv(list(manifests.values()), prefixes))
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
    assert Image.open(io.BytesIO(pianoroll_png(midi, None))).size == (1200, 450)  # no plan: one stem per channel


def test_pianoroll_rejects_bad_input():
    with pytest.raises(ValueError, match=r"^width_px must be an integer in \[600, 8000\], got 100$"):
        pianoroll_png(tiny_midi(), PLAN, width_px=100)
    with pytest.raises(MidiReadError, match="^not a readable MIDI file"):
        pianoroll_png(b"RIFF not midi", PLAN)


# --- cue sheet ------------------------------------------------------------------------------------------------


def test_cuesheet_has_one_row_per_cue_with_its_values(store):
    root, batch, manifests = store
    prefixes = {r.cue_id: r.prefix for r in batch.delivered}
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
    assert (chase["render_key"], short["render_key"]) == ("k-aaa111aaa111", "k-bbb222bbb222")
    keys = chase["files"].split(";")
    assert keys[0] == "cues/night-chase/k-aaa111aaa111/cue.mid"
    assert keys[-1] == "cues/night-chase/k-aaa111aaa111/manifest.json"
    assert "cues/night-chase/k-aaa111aaa111/preview.mp3" in keys
    for row in rows:
        for key in row["files"].split(";"):
            assert (root / key).is_file(), key


def test_a_flac_master_gives_the_cue_sheet_and_the_report_its_loudness(tmp_path):
    """A brief delivering FLAC without WAV: its loudness is the FLAC master's everywhere (it was blank before)."""
    flac = write_cue(tmp_path, "flac-only", "k-ccc333ccc333", title=None, preview=True, roll=False, master="mix.flac")
    assert "mix.wav" not in flac.files and flac.mix == flac.files["mix.flac"]
    [row] = csv.DictReader(io.StringIO(cuesheet_csv([flac], {}), newline=""))
    assert (row["loudness_lufs"], row["true_peak_dbtp"]) == ("-23.0", "-1.5")
    record = BatchRecord(
        batch_id=BATCH_ID, status="rendered", created="", code_version="", store="", sources=(), briefs=(), cues=(),
        results=(delivered(flac),),
    )
    page = report_html(record, {"flac-only": flac}, relative_link(REPORT_KEY))
    assert "-23.0 LUFS" in page and "-1.5 dBTP" in page
    assert '<td class="n">-23.0</td>' in page  # the index row's loudness, from the batch record


def test_a_cutdown_in_bars_is_named_in_bars(tmp_path):
    bars = write_cue(tmp_path, "chase-4bars", "k-ddd444ddd444", title=None, preview=False, roll=False, cutdown="4 bars")
    [row] = csv.DictReader(io.StringIO(cuesheet_csv([bars], {}), newline=""))
    assert row["cutdown"] == "4 bars"
    record = BatchRecord(
        batch_id=BATCH_ID, status="rendered", created="", code_version="", store="", sources=(), briefs=(), cues=(),
        results=(delivered(bars),),
    )
    page = report_html(record, {"chase-4bars": bars}, relative_link(REPORT_KEY))
    assert '<span class="dim">cutdown</span> 4 bars</span>' in page and "— s" not in page


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
    assert ("audio", "../../cues/night-chase/k-aaa111aaa111/preview.mp3") in files
    assert ("audio", "../../cues/night-chase-15s/k-bbb222bbb222/mix.wav") in files  # no preview: the master plays
    assert [link for tag, link in files if tag == "img"] == ["../../cues/night-chase/k-aaa111aaa111/pianoroll.png"]
    assert ("a", "../../cues/night-chase/k-aaa111aaa111/stems/drums.wav") in files
    assert ("a", "cuesheet.csv") in files


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
    assert [src for src, _ in report["images"]] == ["../../cues/night-chase/k-aaa111aaa111/pianoroll.png"]
    assert report["images"][0][1] == 1200
    assert len(report["audio"]) == 2
    for src, duration in report["audio"]:
        assert 0.9 < duration < 1.2, (src, duration)  # one second of audio, give or take the MP3's padding
