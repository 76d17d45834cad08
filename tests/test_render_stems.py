"""Stems delivered as the brief groups them (``delivery.stems``), rendered by real FluidSynth from a composed cue and
delivered into a local store without Ray: named as asked, summing to the mix, absent groups recorded, the mix the
same for every grouping; and the mix rule's faders shown by ``cues show`` and the batch report."""

import io
import json
import re
import subprocess

import mutagen
import numpy as np
import pytest
import soundfile
from typer.testing import CliRunner

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.generate.cue_writer import audio_request, deliver_cue
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.report.cuesheet import cuesheet_csv
from cues.pipelines.report.report_html import relative_link, report_html
from cues.pipelines.store import open_store
from cues.schemas.batch import BatchRecord
from cues.schemas.brief import Brief
from cues.schemas.manifest import read_manifest
from cues.services.cli.app import app

# A piano-only brief: its parts sound in melody, keys_pads and bass; strings, brass, drums and fx have no notes.
PIANO = {"medium": "film", "mood": "calm", "length": 16, "form": "A-B", "instruments": ["piano"], "seed": 2,
         "intensity": 0.9}  # fmt: skip
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


@pytest.fixture(scope="module")
def compact(models, renderer, tmp_path_factory):
    """The piano brief with ``stems: compact`` and three alternate mixes, delivered into a local store: (store root,
    its result, manifest)."""
    root = tmp_path_factory.mktemp("store")
    delivery = {"stems": "compact", "alternates": ["underscore", "drums_bass", "no_drums"]}
    brief = {**PIANO, "id": "keys", "title": "Keys at dusk", "artist": "Ana Lumen", "delivery": delivery}
    [spec] = expand_cues(Brief.model_validate(brief))
    result = deliver_cue(open_store(str(root)), spec, models, renderer)
    return root, result, read_manifest((root / result.prefix / "manifest.json").read_bytes())


def test_a_grouped_cue_is_delivered_named_as_asked_and_sums_to_the_mix(compact):
    root, result, manifest = compact
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
    folder = root / result.prefix
    summed = sum(soundfile.read(io.BytesIO((folder / n).read_bytes()), dtype="float64")[0] for n in stems)
    master, _ = soundfile.read(io.BytesIO((folder / "mix.wav").read_bytes()), dtype="float64")
    assert not audio.limiter.engaged and audio.stem_trim_db == 0.0
    assert 20 * np.log10(np.abs(summed - master).max()) <= -90
    assert manifest.audio.balance.lead == "melody"


def test_alternates_are_the_sums_of_their_delivered_stems_at_the_mixs_gain(compact):
    root, result, manifest = compact
    folder = root / result.prefix

    def read(name: str) -> np.ndarray:
        return soundfile.read(io.BytesIO((folder / name).read_bytes()), dtype="float64")[0]

    alternates = manifest.audio.alternates
    assert list(alternates) == ["underscore", "drums_bass", "no_drums"]
    assert alternates["underscore"].stems == ("keys_pads", "bass") and not alternates["underscore"].equals_mix
    # the cue has no drums: drums_bass delivers its bass and says what it lacks; no_drums is the mix, and says so
    assert (alternates["drums_bass"].stems, alternates["drums_bass"].missing) == (("bass",), ("drums_perc",))
    assert alternates["no_drums"].equals_mix and not any(a.silent or a.limited for a in alternates.values())
    delivered = sorted(n for n in manifest.files if n.startswith("alternates/"))
    assert delivered == ["alternates/drums_bass.wav", "alternates/no_drums.wav", "alternates/underscore.wav"]
    assert manifest.audio.stem_trim_db == 0.0  # so the stems are at the mix's gain exactly
    null = 10 ** (-90 / 20)  # -90 dBFS: what the stems' sum nulls to against the mix
    assert np.abs(read("alternates/underscore.wav") - read("stems/music.wav") - read("stems/rhythm.wav")).max() < null
    assert np.abs(read("alternates/drums_bass.wav") - read("stems/rhythm.wav")).max() < null
    assert np.array_equal(read("alternates/no_drums.wav"), read("mix.wav"))
    underscore = manifest.files["alternates/underscore.wav"]
    assert underscore.loudness_lufs < manifest.mix.loudness_lufs and underscore.true_peak_dbtp <= -1.0


def test_the_files_say_what_they_are_to_independent_readers(compact):
    root, result, manifest = compact
    folder, plan = root / result.prefix, manifest.plan
    tempo = f"{plan.tempo_bpm:.0f}"
    tags = mutagen.File(folder / "preview.mp3").tags  # ID3v2, read by mutagen
    assert (str(tags["TIT2"]), str(tags["TPE1"]), str(tags["TBPM"])) == ("Keys at dusk", "Ana Lumen", tempo)
    assert str(tags["TKEY"]) == plan.key.split()[0] + ("m" if plan.mode in ("minor", "dorian", "phrygian") else "")
    assert str(tags["COMM::eng"]) == f"cue keys, render {manifest.cue_key}, {plan.key}, {tempo} bpm"
    for name in ("mix.wav", "stems/music.wav", "alternates/underscore.wav"):  # the bext chunk, read by ffprobe
        probe = subprocess.run(
            ["ffprobe", "-v", "error", "-show_format", "-of", "json", str(folder / name)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        bext = json.loads(probe.stdout)["format"]["tags"]
        assert bext["time_reference"] == "0" and bext["originator_reference"] == manifest.cue_key
        about = f"Keys at dusk (keys), {plan.key}, {tempo} bpm, {plan.meter}"
        assert bext["comment"].startswith(f"{name.removesuffix('.wav')} of {about}"), bext["comment"]


def test_cues_show_prints_the_stems_and_each_sections_faders_from_the_manifest(compact):
    root, _, manifest = compact
    shown = CliRunner().invoke(app, ["show", "keys", "--store", str(root)])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert "stems: melody; music = keys_pads; rhythm = bass; absent (no notes): fx" in lines
    assert (
        "alternates: underscore = keys_pads + bass (missing strings, brass_winds, drums_perc, fx), drums_bass = bass "
        "(missing drums_perc), no_drums = melody + keys_pads + bass (missing strings, brass_winds, fx; = the mix)"
    ) in lines
    balance = manifest.audio.balance
    assert len(balance.sections) == len(manifest.plan.sections) >= 2
    assert any(s.lead_db != 0 for s in balance.sections)  # the rule moved the faders: the lines show numbers
    expected = []
    for section, faders in zip(manifest.plan.sections, balance.sections, strict=True):
        margin = (
            f"margin {faders.margin_db:+.2f} → {faders.balanced_margin_db:+.2f} dB"
            if faders.balanced_margin_db is not None
            else "no margin (the lead rests or plays alone)"
        )
        expected.append(
            f"  {section.label} {section.start_s:.1f}–{section.end_s:.1f} s: lead {faders.lead_db:+.2f} dB, "
            f"accompaniment {faders.accompaniment_db:+.2f} dB, {margin}"
        )
    start = lines.index(
        "balance: the lead (melody) within 3 dB of the loudest other stem; faders per section, and the lead's "
        "margin over the loudest other stem before → after"
    )
    assert lines[start + 1 : start + 1 + len(expected)] == expected


def test_the_report_shows_the_stems_and_the_balance_per_cue(compact):
    root, result, manifest = compact
    batch = BatchRecord(
        batch_id="b-0123456789ab",
        status="rendered",
        created="2026-01-02T03:04:05+00:00",
        code_version="0.1.0",
        store=root.as_uri(),
        sources=("briefs/",),
        briefs=(),
        cues=(),
        results=(result,),
    )
    page = report_html(batch, {"keys": manifest}, relative_link("batches/b-0123456789ab/report.html"))
    assert "<tr><td>music</td><td>keys_pads</td></tr>" in page
    assert "<tr><td>fx</td><td>absent: no notes in this cue</td></tr>" in page
    assert '<h3>Mix balance <span class="dim">lead: melody</span></h3>' in page
    # the alternates: one player each, the stems kept and what the cue lacks
    assert page.count('<audio controls preload="none" src="../../cues/keys/') == 1 + 3
    assert "<td>drums_bass</td><td>bass</td>" in page and "missing: drums_perc" in page and "= the mix" in page
    # the audition room plays the same: the mix, the delivered stems (solo/mute each), each alternate with a file
    assert re.findall(r'name="src-keys" value="([^"]+)"', page) == [
        "mix", "stems", "alternate:underscore", "alternate:drums_bass", "alternate:no_drums"
    ]  # fmt: skip
    assert re.findall(r'<span class="track" data-track="([^"]+)"', page) == ["stem:melody", "stem:music", "stem:rhythm"]
    assert page.count('class="mark section"') == len(manifest.plan.sections) and "<path " in page  # its waveform
    [row] = cuesheet_csv([manifest], {}).splitlines()[1:]
    underscore = manifest.files["alternates/underscore.wav"].loudness_lufs
    assert row.endswith(
        f"underscore {underscore};drums_bass {manifest.files['alternates/drums_bass.wav'].loudness_lufs};"
        f"no_drums {manifest.mix.loudness_lufs} =mix"
    )
    for section, faders in zip(manifest.plan.sections, manifest.audio.balance.sections, strict=True):
        cells = [f"{faders.lead_db:+.2f}", f"{faders.accompaniment_db:+.2f}"]
        cells += [f"{m:+.2f}" if m is not None else "—" for m in (faders.margin_db, faders.balanced_margin_db)]
        row = f"<tr><td>{section.label}</td>" + "".join(f'<td class="n">{c}</td>' for c in cells)
        assert row in page, row
