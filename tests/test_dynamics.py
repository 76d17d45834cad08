"""Issue 16's audio measures (pipelines/render/dynamics.py) on signals whose answer is known, and on one real cue
composed and rendered as the job does it."""

import numpy as np
import pytest

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.texture import layers_per_section, plays_in_sections
from cues.pipelines.generate.cue_writer import audio_request
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.render.dynamics import (
    LEVEL_FLOOR_LUFS,
    LevelMeter,
    hit_accents,
    lead_margins,
    level_spread,
    loudness_range,
    silent_stems,
    span_levels,
)
from cues.schemas.brief import Brief

RATE = 48000


def tone(seconds: float, dbfs: float, channels: int = 2, hz: float = 997.0) -> np.ndarray:
    """A sine of peak level ``dbfs`` in every channel."""
    t = np.arange(round(seconds * RATE)) / RATE
    return np.tile(10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t), (channels, 1)).astype(np.float32)


def joined(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts, axis=1)


def test_a_full_scale_997_hz_sine_in_one_channel_reads_minus_3_lufs():
    # BS.1770's calibration: the K-weighting is 0 dB near 1 kHz and a sine's mean square is half its peak's
    assert LevelMeter(tone(2, 0.0, channels=1), RATE).level(0, 2) == pytest.approx(-3.01, abs=0.05)


def test_a_section_10_db_louder_than_the_one_before_measures_10_db_more():
    meter = LevelMeter(joined(tone(4, -30), tone(4, -20)), RATE)
    levels = span_levels(meter, [(0, 4), (4, 8)])
    assert levels[1] - levels[0] == pytest.approx(10.0, abs=0.02)
    assert level_spread(levels) == pytest.approx(10.0, abs=0.02)


def test_spans_are_cut_where_a_fade_starts_and_a_span_after_it_is_not_measured():
    meter = LevelMeter(joined(tone(4, -20), np.zeros((2, 4 * RATE), dtype=np.float32)), RATE)
    levels = span_levels(meter, [(0, 3), (3, 6), (6, 8)], until_s=4.0)
    assert levels[0] == pytest.approx(levels[1], abs=0.02)  # the silent 4–6 s is left out of the second span
    assert levels[2] is None
    assert level_spread([levels[0], None]) is None  # one measured section has no spread


def test_silence_reads_the_floor_not_minus_infinity():
    meter = LevelMeter(np.zeros((2, RATE), dtype=np.float32), RATE)
    assert meter.level(0, 1) == LEVEL_FLOOR_LUFS
    assert meter.level(0.5, 0.5) == LEVEL_FLOOR_LUFS  # an empty span


def test_a_hit_accent_is_the_second_after_it_against_the_second_before():
    meter = LevelMeter(joined(tone(3, -32), tone(3, -20)), RATE)
    accents = hit_accents(meter, [3.0, 0.5, 5.5, 4.5], length_s=6.0)
    assert accents[0] == pytest.approx(12.0, abs=0.05)
    assert accents[1:3] == [None, None]  # under a second before it, under a second after it
    assert accents[3] == pytest.approx(0.0, abs=0.05)  # inside a steady passage nothing jumps
    # a flash: 400 ms 12 dB up after the hit, then back; the second after it is the energy mean of the two
    flash = LevelMeter(joined(tone(3, -32), tone(0.4, -20), tone(2.6, -32)), RATE)
    assert hit_accents(flash, [3.0], 6.0, after_s=0.4)[0] == pytest.approx(12.0, abs=0.05)
    assert hit_accents(flash, [3.0], 6.0)[0] == pytest.approx(10 * np.log10(0.4 * 10**1.2 + 0.6), abs=0.05)


def test_the_lead_margin_is_against_the_loudest_other_stem_where_the_lead_plays():
    stems = {
        "melody": LevelMeter(joined(tone(2, -20), tone(2, -20)), RATE),
        "harmony": LevelMeter(joined(tone(2, -25), tone(2, -15)), RATE),
        "bass": LevelMeter(joined(tone(2, -24), tone(2, -30)), RATE),
    }
    margins = lead_margins(stems, "melody", [(0, 2), (2, 4), (0, 4)], [True, True, False])
    assert margins[0] == pytest.approx(4.0, abs=0.05)  # 4 dB over the bass, the louder of the two there
    assert margins[1] == pytest.approx(-5.0, abs=0.05)  # 5 dB under the harmony
    assert margins[2] is None


def test_a_stem_under_minus_90_dbfs_is_silent_and_one_at_minus_80_is_not():
    stems = {
        "melody": tone(1, -80),
        "percussion": np.zeros((2, RATE), dtype=np.float32),
        "fx": tone(1, -100),
        "empty": np.zeros((2, 0), dtype=np.float32),
    }
    assert silent_stems(stems) == ["percussion", "fx", "empty"]


def test_loudness_range_of_two_halves_10_db_apart_is_10_lu_and_of_a_steady_tone_0():
    assert loudness_range(tone(20, -20), RATE) == pytest.approx(0.0, abs=0.05)
    assert loudness_range(joined(tone(10, -30), tone(10, -20)), RATE) == pytest.approx(10.0, abs=0.1)
    # EBU Tech 3342's relative gate leaves out a passage 30 dB down (the 3 s windows across the change remain,
    # under a tenth of the rest here), so the range is that of the rest
    assert loudness_range(joined(tone(10, -50), tone(60, -20)), RATE) == pytest.approx(0.0, abs=0.05)
    assert loudness_range(tone(2, -20), RATE) is None  # shorter than one 3 s window


@pytest.fixture(scope="module")
def rendered():
    brief = Brief.model_validate(
        {"id": "dyn", "medium": "film", "mood": "happy", "length": 16, "form": "AB", "hits": [6.0], "seed": 3}
    ).resolve()
    cue = compose_cue(brief, brief.seed, None, ComposerModels.load())
    with CueRenderer() as renderer:
        return cue, renderer.master_cue(audio_request(cue.plan, cue.midi, brief, "test"))


def test_a_real_cue_measures_sanely(rendered):
    cue, audio = rendered
    plan = cue.plan
    assert audio.mastered.mix.shape[-1] >= audio.length_samples == round(plan.length_s * audio.rate)
    music = audio.mastered.mix[:, : audio.length_samples]
    mix = LevelMeter(music, audio.rate)
    spans = [(s.start_s, s.end_s) for s in plan.sections]
    levels = span_levels(mix, spans)
    # mastered to -23 LUFS integrated: every section of a cue that plays throughout lies near it
    assert all(-33 < level < -15 for level in levels)
    assert 0 <= level_spread(levels) < 10
    (accent,) = hit_accents(mix, [h.achieved_s for h in plan.hits], plan.length_s)
    assert -10 < accent < 25
    stems = {route.name: LevelMeter(audio.mastered.stems[i], audio.rate) for i, route in enumerate(audio.stems)}
    assert list(stems) == [s.name for s in plan.stems] and {"melody", "bass", "drums_perc"} <= set(stems)
    margins = lead_margins(stems, "melody", spans, plays_in_sections(cue.score, "lead"))
    assert all(m is None or -30 < m < 30 for m in margins) and any(m is not None for m in margins)
    # every delivered stem sounds
    assert silent_stems({r.name: audio.mastered.stems[i] for i, r in enumerate(audio.stems)}) == []
    assert all(2 <= n <= 8 for n in layers_per_section(cue.score))  # the tutti: lead, counter, pad, figure, bass,
    # drums and the two effects parts (riser and impact)
    assert 0 <= loudness_range(music, audio.rate) < 15


def test_stems_of_several_parts_sound_and_null_against_the_mix():
    """A piano-only brief: counter, pad and figure share the keys_pads stem (three MIDI channels on one bus); the
    drums have nothing to play (no groove, no hit), so there is no drums_perc stem."""
    brief = Brief.model_validate(
        {
            "id": "keys",
            "medium": "film",
            "mood": "calm",
            "length": 12,
            "instruments": ["piano"],
            "seed": 2,
            "intensity": 0.9,
        }
    ).resolve()
    cue = compose_cue(brief, brief.seed, None, ComposerModels.load())
    assert [s.name for s in cue.plan.stems] == ["melody", "keys_pads", "bass"]
    assert len(cue.plan.stems[1].channels) >= 2 and "drums_perc" in cue.plan.absent_stems
    with CueRenderer() as renderer:
        audio = renderer.master_cue(audio_request(cue.plan, cue.midi, brief, "test"))
    assert [r.name for r in audio.stems] == ["melody", "keys_pads", "bass"]
    assert silent_stems({r.name: audio.mastered.stems[i] for i, r in enumerate(audio.stems)}) == []
    untrimmed = audio.mastered.stems.sum(axis=0) * 10 ** (-audio.mastered.stem_trim_db / 20)
    assert np.abs(untrimmed - audio.mastered.premix).max() < 1e-5
