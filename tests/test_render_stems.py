"""Stems delivered as the brief groups them (``delivery.stems``), rendered by real FluidSynth from a composed cue and
delivered into a local store without Ray: named as asked, summing to the mix, absent groups recorded, the mix the
same for every grouping; and the mix rule's faders shown by ``cues show`` and the batch report."""

import io

import numpy as np
import pytest
import soundfile

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.generate.cue_writer import audio_request, deliver_cue
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.store import open_store
from cues.schemas.brief import Brief
from cues.schemas.manifest import read_manifest

# A piano-only brief: its parts sound in melody, keys_pads and bass; strings, brass, drums and fx have no notes.
PIANO = {"medium": "film", "mood": "calm", "length": 12, "instruments": ["piano"], "seed": 2, "intensity": 0.9}
GROUPING = {"tune": ["melody"], "music": ["strings", "keys_pads"], "fx": ["fx"]}  # bass, … unlisted: `other`


def resolved(**delivery):
    return Brief.model_validate({**PIANO, "id": "keys", "delivery": delivery}).resolve()


@pytest.fixture(scope="module")
def models():
    return ComposerModels.load()


@pytest.fixture(scope="module")
def renderer():
    with CueRenderer() as renderer:
        yield renderer


def test_a_grouping_changes_the_stems_only_not_the_midi_or_the_mix(models, renderer):
    plain, grouped = resolved(), resolved(stems=GROUPING)
    cue = compose_cue(plain, plain.seed, None, models)
    again = compose_cue(grouped, grouped.seed, None, models)
    assert again.midi == cue.midi and again.plan == cue.plan  # the seed is pinned: the grouping is not music
    assert [s.name for s in cue.plan.stems] == ["melody", "keys_pads", "bass"]
    as_roles = renderer.master_cue(audio_request(cue.plan, cue.midi, plain, "k"))
    as_asked = renderer.master_cue(audio_request(again.plan, again.midi, grouped, "k"))
    assert [(s.name, s.groups) for s in as_asked.stems] == [
        ("tune", ("melody",)),
        ("music", ("keys_pads",)),
        ("other", ("bass",)),
    ]  # fx has no notes: not delivered
    assert as_asked.stems[1].channels == cue.plan.stems[1].channels
    assert np.array_equal(as_asked.mastered.mix, as_roles.mastered.mix)
    assert as_asked.balance == as_roles.balance  # the rule balanced the role groups, before they were grouped
    untrimmed = as_asked.mastered.stems.sum(axis=0) * 10 ** (-as_asked.mastered.stem_trim_db / 20)
    assert np.abs(untrimmed - as_asked.mastered.premix).max() < 1e-5
    # each gathered stem is the sum of its role groups as the default delivery gives them
    by_role = {s.name: as_roles.mastered.stems[i] for i, s in enumerate(as_roles.stems)}
    trim = 10 ** ((as_asked.mastered.stem_trim_db - as_roles.mastered.stem_trim_db) / 20)
    assert np.abs(as_asked.mastered.stems[2] - by_role["bass"] * trim).max() < 1e-6


def test_a_grouped_cue_is_delivered_named_as_asked_and_sums_to_the_mix(models, renderer, tmp_path):
    store = open_store(str(tmp_path / "store"))
    [spec] = expand_cues(Brief.model_validate({**PIANO, "id": "keys", "delivery": {"stems": "compact"}}))
    result = deliver_cue(store, spec, models, renderer)
    manifest = read_manifest((tmp_path / "store" / result.prefix / "manifest.json").read_bytes())
    audio = manifest.audio
    assert list(audio.stems) == ["melody", "music", "rhythm"]
    assert [audio.stems[n].groups for n in audio.stems] == [("melody",), ("keys_pads",), ("bass",)]
    assert audio.stems["music"].midi_channels == tuple(c + 1 for c in manifest.plan.stems[1].channels)
    assert audio.absent_stems == ("fx",) and audio.silent_stems == ()
    stems = sorted(n for n in manifest.files if n.startswith("stems/"))
    assert stems == ["stems/melody.wav", "stems/music.wav", "stems/rhythm.wav"]
    mix = manifest.files["mix.wav"]
    assert mix.stems_sum_residual_dbfs is None or mix.stems_sum_residual_dbfs <= -90
    # the files themselves: the sum of the three stem WAVs nulls against the mix (the limiter did not act here)
    folder = tmp_path / "store" / result.prefix
    summed = sum(soundfile.read(io.BytesIO((folder / n).read_bytes()), dtype="float64")[0] for n in stems)
    master, _ = soundfile.read(io.BytesIO((folder / "mix.wav").read_bytes()), dtype="float64")
    assert not audio.limiter.engaged and audio.stem_trim_db == 0.0
    assert 20 * np.log10(np.abs(summed - master).max()) <= -90
    assert manifest.audio.balance.lead == "melody"
