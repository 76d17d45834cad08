"""Adaptive music for games, delivered into a local store without Ray from a real composed and rendered game cue:
loop and cue points in every WAV (read back by a RIFF walker written here, independent of the writer)."""

import io
import struct

import numpy as np
import pytest
import soundfile

from cues.pipelines.compose.composer import ComposerModels
from cues.pipelines.generate.cue_writer import deliver_cue
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.store import open_store
from cues.schemas.brief import Brief
from cues.schemas.manifest import read_manifest

# A short game loop with one hit: two sections, 48 kHz, 16 bits (quick to encode).
GAME = {"id": "arena", "medium": "game", "mood": "action", "length": 8, "tempo": 120, "form": "A-B", "hits": [4.5],
        "seed": 5, "delivery": {"bit_depth": 16, "formats": ["wav"]}}  # fmt: skip


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
    wavs = sorted(name for name in manifest.files if name.endswith(".wav"))
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
