"""Adaptive music for games, delivered into a local store without Ray from a real composed and rendered game cue:
loop and cue points in every WAV (read back by a RIFF walker written here, independent of the writer), vertical
layers that sum to the mix, stingers in key."""

import io
import re
import struct

import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from cues.pipelines.compose.composer import ComposerModels
from cues.pipelines.compose.layers import layer_stems
from cues.pipelines.compose.plan import make_plan
from cues.pipelines.compose.stingers import compose_stinger
from cues.pipelines.generate.cue_writer import audio_request, deliver_cue
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.report.audition import audition_room
from cues.pipelines.report.game_audio import game_players
from cues.pipelines.store import open_store
from cues.schemas.brief import Brief
from cues.schemas.game_delivery import StingerKind
from cues.schemas.key import MODE_INTERVALS, Mode
from cues.schemas.manifest import read_manifest
from cues.schemas.palettes import StemGroup
from cues.services.cli.app import app

# A short game loop with one hit: two sections, WAV only (24 bits: the layers and stems null to -90 dBFS).
GAME = {"id": "arena", "medium": "game", "mood": "action", "length": 8, "tempo": 120, "form": "A-B", "hits": [4.5],
        "seed": 5, "delivery": {"formats": ["wav"], "layers": True, "stingers": True}}  # fmt: skip


def riff_chunks(data: bytes) -> dict[bytes, bytes]:
    """Every top-level chunk of a RIFF/WAVE file by tag (walked by size, not searched for)."""
    assert data[:4] == b"RIFF" and data[8:12] == b"WAVE"
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    chunks, at = {}, 12
    while at < len(data):
        tag, size = data[at : at + 4], struct.unpack("<I", data[at + 4 : at + 8])[0]
        chunks[tag] = data[at + 8 : at + 8 + size]
        at += 8 + size + (size & 1)
    assert at == len(data)
    return chunks


def read_loop_and_cues(data: bytes) -> tuple[list[tuple[int, int, int]], dict[int, tuple[int, str]]]:
    """The smpl chunk's loops (type, start, end) and the cue points (id → sample, label) of a WAV file."""
    chunks = riff_chunks(data)
    smpl = chunks[b"smpl"]
    count = struct.unpack_from("<I", smpl, 28)[0]
    loops = [struct.unpack_from("<6I", smpl, 36 + 24 * i)[1:4] for i in range(count)]
    cue = chunks[b"cue "]
    points = {}
    for i in range(struct.unpack_from("<I", cue, 0)[0]):
        ident, position, data_tag, _, _, offset = struct.unpack_from("<II4sIII", cue, 4 + 24 * i)
        assert data_tag == b"data" and position == offset
        points[ident] = offset
    adtl, labels = chunks[b"LIST"], {}
    assert adtl[:4] == b"adtl"
    at = 4
    while at < len(adtl):
        size = struct.unpack_from("<I", adtl, at + 4)[0]
        if adtl[at : at + 4] == b"labl":
            ident = struct.unpack_from("<I", adtl, at + 8)[0]
            labels[ident] = adtl[at + 12 : at + 8 + size].rstrip(b"\x00").decode("ascii")
        at += 8 + size + (size & 1)
    return loops, {ident: (sample, labels[ident]) for ident, sample in points.items()}


@pytest.fixture(scope="module")
def game(tmp_path_factory):
    """The game brief delivered into a local store: (cue folder, manifest)."""
    root = tmp_path_factory.mktemp("store")
    [spec] = expand_cues(Brief.model_validate(GAME))
    with CueRenderer() as renderer:
        result = deliver_cue(open_store(str(root)), spec, ComposerModels.load(), renderer)
    folder = root / result.prefix
    return folder, read_manifest((folder / "manifest.json").read_bytes())


def test_every_wav_of_a_loop_carries_its_loop_and_a_cue_point_at_each_section_and_hit(game):
    folder, manifest = game
    plan, rate = manifest.plan, manifest.audio.sample_rate
    length = round(plan.length_s * rate)
    assert manifest.audio.length_samples == length and manifest.audio.tail_samples == 0
    expected = sorted(
        [(round(s.start_s * rate), f"section {s.label}") for s in plan.sections]
        + [(round(h.achieved_s * rate), f"hit {i}") for i, h in enumerate(plan.hits, 1)]
    )
    assert len(plan.sections) == 2 and len(plan.hits) == 1 and expected[0] == (0, "section A")
    wavs = sorted(name for name in manifest.files if name.endswith(".wav") and not name.startswith("stingers/"))
    assert "mix.wav" in wavs and any(name.startswith("stems/") for name in wavs)
    for name in wavs:
        data = (folder / name).read_bytes()
        loops, points = read_loop_and_cues(data)
        assert loops == [(0, 0, length - 1)], name  # one forward loop over the whole musical length
        assert sorted(points.values()) == expected, name
        assert soundfile.info(io.BytesIO(data)).frames == length  # the samples are untouched by the chunks
        assert manifest.files[name].loop == (0, length - 1)
    recorded = manifest.audio.markers
    assert recorded.loop == (0, length - 1)
    assert [(p.sample, p.label) for p in recorded.cue_points] == expected
    mix, _ = soundfile.read(io.BytesIO((folder / "mix.wav").read_bytes()), dtype="float64")
    assert np.abs(mix).max() > 0.01


def read(folder, name: str) -> np.ndarray:
    return soundfile.read(io.BytesIO((folder / name).read_bytes()), dtype="float64")[0]


def test_the_layers_are_sample_aligned_and_add_up_to_the_mix_before_the_limiter(game):
    folder, manifest = game
    audio, length = manifest.audio, manifest.audio.length_samples
    layers = audio.layers
    assert list(layers.by_layer) == ["low", "mid", "high"]
    # action enters drums, bass, figure, counter, pad: the lead, drums and bass are the quiet version
    assert layers.by_layer["low"].stems == ("melody", "bass", "drums_perc")
    assert layers.by_layer["high"].stems == ("fx",)
    assert sorted(s for layer in layers.by_layer.values() for s in layer.stems) == sorted(audio.stems)
    files = {name: read(folder, f"layers/{name}.wav") for name in layers.by_layer}
    assert all(f.shape == (length, 2) for f in files.values())
    assert not any(layer.silent for layer in layers.by_layer.values())
    summed = sum(files.values()) * 10 ** (-layers.trim_db / 20)
    stems = sum(read(folder, f"stems/{n}.wav") for n in audio.stems) * 10 ** (-audio.stem_trim_db / 20)
    assert 20 * np.log10(np.abs(summed - stems).max()) <= -90  # both are the premix
    assert layers.sum_residual_dbfs is None or layers.sum_residual_dbfs <= -90
    # each layer is its own stems to the sample (a shifted layer would not null)
    low = sum(read(folder, f"stems/{n}.wav") for n in layers.by_layer["low"].stems) * 10 ** (-audio.stem_trim_db / 20)
    assert 20 * np.log10(np.abs(files["low"] * 10 ** (-layers.trim_db / 20) - low).max()) <= -90
    assert 20 * np.log10(np.abs(np.roll(files["low"], 1, axis=0) * 10 ** (-layers.trim_db / 20) - low).max()) > -60
    loops, _ = read_loop_and_cues((folder / "layers/low.wav").read_bytes())
    assert loops == [(0, 0, length - 1)]
    assert manifest.files["layers/mid.wav"].loop == (0, length - 1)


def test_layers_and_stingers_are_for_game_cues_only():
    for field, value in (("layers", True), ("stingers", ["hit"])):
        with pytest.raises(ValueError) as caught:
            Brief.model_validate({**GAME, "medium": "film", "delivery": {field: value}})
        assert f"delivery.{field}: {field} are for game cues (medium: game); this brief's medium is film" in str(
            caught.value
        )
    assert Brief.model_validate({**GAME, "delivery": {"layers": True}}).delivery.layers == ("low", "mid", "high")


def test_the_report_plays_each_layer_and_stinger(game):
    folder, manifest = game
    html = game_players(manifest, lambda key: key)
    for name in ("low", "mid", "high"):
        assert f'<audio controls preload="none" src="{manifest.prefix}/layers/{name}.wav"></audio>' in html
    assert "<p>low: melody, bass, drums_perc</p>" in html
    for kind in ("hit", "rise", "resolve"):
        src = f"{manifest.prefix}/stingers/{kind}.wav"
        assert f'<p>{kind}</p><audio controls preload="none" src="{src}"></audio>' in html
    room = audition_room(manifest, lambda key: key)  # the layers as one source, each soloed or muted
    assert '<div class="mixer" data-source="layers" hidden>' in room
    assert re.findall(r'data-track="(layer:[a-z]+)"', room) == ["layer:low", "layer:mid", "layer:high"]


def test_each_stinger_is_in_key_a_bar_or_two_at_the_cues_tempo_and_at_its_loudness(game):
    folder, manifest = game
    plan, rate = manifest.plan, manifest.audio.sample_rate
    bar_samples = round(4 * 60 / 120 * rate)  # 4/4 at 120 bpm: 2 s a bar
    assert list(manifest.audio.stingers) == ["hit", "rise", "resolve"]
    scale = {(plan.tonic + i) % 12 for i in MODE_INTERVALS[plan.mode]}
    if plan.mode == Mode.minor:
        scale.add((plan.tonic + 11) % 12)  # the dominant's leading tone
    cue_plan = make_plan(manifest.brief, manifest.seed)
    for kind, bars in (("hit", 1), ("rise", 2), ("resolve", 2)):
        record = manifest.audio.stingers[kind]
        assert (record.bars, record.length_samples) == (bars, bars * bar_samples)
        assert 0 <= record.tail_samples <= 4 * rate
        entry = manifest.files[f"stingers/{kind}.wav"]
        audio, file_rate = soundfile.read(io.BytesIO((folder / f"stingers/{kind}.wav").read_bytes()))
        assert file_rate == rate and audio.shape == (record.length_samples + record.tail_samples, 2)
        assert entry.samples == audio.shape[0] and entry.loop is None  # a stinger rings out: no loop
        assert abs(entry.loudness_lufs - manifest.brief.delivery.loudness) <= 0.1
        assert entry.true_peak_dbtp <= manifest.brief.delivery.true_peak
        stinger = compose_stinger(cue_plan, StingerKind(kind))  # what was rendered: composed again, the same
        pitched = [n.pitch for p in stinger.plan.parts if p.channel != 9 for n in stinger.score.parts[p.name]]
        assert pitched and {pitch % 12 for pitch in pitched} <= scale
        assert {p.program for p in stinger.plan.parts} <= {p.program for p in cue_plan.parts}  # the cue's instruments
        assert max(n.end for notes in stinger.score.parts.values() for n in notes) == bars * plan.steps_per_bar
    assert {p.name for p in compose_stinger(cue_plan, StingerKind.rise).plan.parts} >= {"fx", "drums"}


def test_layers_share_out_the_role_groups_by_entry_intensity_or_as_a_mapping_says():
    plan = make_plan(Brief.model_validate(GAME).resolve(), GAME["seed"])
    assert layer_stems(plan, ("low", "high")) == {
        "low": ("melody", "strings", "bass", "drums_perc"),  # action: drums 0, bass 0.3, figure 0.45 (strings)
        "high": ("brass_winds", "fx"),  # counter 0.6 and pad 0.75 (brass), effects 1
    }
    mapping = layer_stems(plan, {"bed": (StemGroup.bass,), "drive": (StemGroup.drums_perc,)})
    assert mapping["bed"] == ("bass",)
    assert set(mapping["drive"]) == {s.name for s in plan.stems} - {"bass"}  # unlisted groups join the last layer
    assert layer_stems(plan, False) == {}
    plain = Brief.model_validate({**GAME, "delivery": {}}).resolve()
    assert audio_request(plan, b"", plain, "k").layers is None  # no layers asked: none rendered, none in the manifest
    mp3_only = Brief.model_validate({**GAME, "delivery": {"formats": ["mp3"], "layers": True}}).resolve()
    assert audio_request(plan, b"", mp3_only, "k").layers is None  # layers exist as WAV or FLAC only


def test_a_stinger_is_composed_the_same_every_time():
    plan = make_plan(Brief.model_validate(GAME).resolve(), GAME["seed"])
    for kind in StingerKind:
        assert compose_stinger(plan, kind).midi == compose_stinger(plan, kind).midi


def test_cues_show_prints_the_layers_stingers_and_loop(game):
    folder, manifest = game
    shown = CliRunner().invoke(app, ["show", "arena", "--store", str(folder.parents[2])])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    layers = "low = melody + bass + drums_perc; mid = strings + brass_winds; high = fx"
    assert f"layers (additive, quietest first): {layers}" in lines
    assert "stingers: hit (1 bar), rise (2 bars), resolve (2 bars)" in lines
    length = manifest.audio.length_samples
    assert f"loop: samples 0–{length - 1}, 3 cue points (sections and hits)" in lines
