"""Alternate mixes (``delivery.alternates``): what the brief accepts and refuses, and how an alternate is summed
and kept under the ceiling at the mix's gain, on small arrays built here (the rendered, delivered alternates are
checked against their stems in ``tests/test_render_stems.py``)."""

import numpy as np
import pytest
from pydantic import ValidationError

from cues.pipelines.render.alternates import master_alternates, sum_alternates
from cues.pipelines.render.loudness import true_peak_dbtp
from cues.pipelines.render.master import LimiterReport
from cues.schemas.alternates import alternate_groups
from cues.schemas.brief import Brief
from cues.schemas.palettes import StemGroup
from cues.schemas.problems import problems_from

BRIEF = {"medium": "film", "mood": "tense", "length": 30}
RATE = 48_000


def brief(**delivery) -> Brief:
    return Brief.model_validate({**BRIEF, "delivery": delivery})


def problems(**delivery) -> list[str]:
    with pytest.raises(ValidationError) as caught:
        brief(**delivery)
    return [str(p) for p in problems_from(caught.value, Brief)]


def test_no_alternates_leaves_the_brief_as_it_was_and_presets_read_back():
    assert brief(alternates=[]).content_hash() == brief().content_hash() == brief(alternates={}).content_hash()
    assert "alternates" not in brief().model_dump(mode="json")["delivery"]
    asked = brief(alternates=["underscore", "drums_bass"])
    assert Brief.model_validate(asked.model_dump(mode="json")) == asked
    assert asked.content_hash() != brief().content_hash()  # the files differ, so the render key must
    groups = alternate_groups(asked.delivery.alternates, asked.delivery.stems)
    assert groups == {
        "underscore": (StemGroup.strings, StemGroup.brass_winds, StemGroup.keys_pads, StemGroup.bass,
                       StemGroup.drums_perc, StemGroup.fx),
        "drums_bass": (StemGroup.bass, StemGroup.drums_perc),
    }  # fmt: skip


def test_a_mapping_names_role_groups_or_the_stems_of_delivery_stems():
    asked = brief(stems="compact", alternates={"dialogue": ["music", "bass"], "tune": "melody"})
    assert alternate_groups(asked.delivery.alternates, asked.delivery.stems) == {
        "dialogue": (StemGroup.strings, StemGroup.brass_winds, StemGroup.keys_pads, StemGroup.bass),
        "tune": (StemGroup.melody,),
    }


def test_unknown_and_repeated_names_are_refused_with_their_paths():
    assert problems(stems="compact", alternates={"dialogue": ["music", "bas"]}) == [
        "delivery.alternates.dialogue[1]: unknown stem 'bas'; did you mean 'bass'?; allowed: melody, strings, "
        "brass_winds, keys_pads, bass, drums_perc, fx, music, rhythm"
    ]
    assert problems(stems="compact", alternates={"dialogue": ["music", "strings"]}) == [
        "delivery.alternates.dialogue[1]: role group 'strings' is already kept by 'music' in this alternate"
    ]
    assert problems(alternates=["underscor", "no_drums", "no_drums"]) == [
        "delivery.alternates[0]: unknown alternate preset 'underscor'; did you mean 'underscore'?; allowed: a list "
        "of presets (underscore, no_drums, drums_bass, lead_only), or a mapping of alternate names to the stems each "
        "keeps (role groups: melody, strings, brass_winds, keys_pads, bass, drums_perc, fx; or stems of "
        "delivery.stems)",
        "delivery.alternates[2]: alternate 'no_drums' is listed twice",
    ]
    assert problems(alternates={"Dialogue Bed": ["bass"], "empty": []}) == [
        "delivery.alternates: alternate name 'Dialogue Bed' is not a file name; allowed: lowercase letters, digits, "
        "- and _, starting with a letter or digit, at most 32 characters",
        "delivery.alternates.empty: an alternate lists one stem or more, by name (got [])",
    ]


def tone(amplitude: float, seconds: float = 1.0) -> np.ndarray:
    wave = amplitude * np.sin(2 * np.pi * 220 * np.arange(round(seconds * RATE)) / RATE)
    return np.stack([wave, wave]).astype(np.float32)


def test_an_alternate_sums_what_sounds_flags_what_is_missing_and_keeps_the_mix_gain():
    stems = np.stack([tone(0.1), tone(0.05)])  # rendered: melody, bass
    asked = (("tune", ("melody",)), ("rhythm", ("bass", "drums_perc")), ("fx", ("fx",)), ("all", ("melody", "bass")))
    sums = sum_alternates(stems, ["melody", "bass"], asked)
    [tune, rhythm, fx, whole] = master_alternates(
        sums, 6.0, RATE, -1.0, LimiterReport(False), loop=False, release_ms=80.0, lookahead_ms=5.0
    )
    gain = np.float32(10 ** (6 / 20))
    assert np.array_equal(tune.audio, stems[0] * gain) and not tune.limiter.engaged
    assert (rhythm.kept, rhythm.missing, rhythm.silent) == (("bass",), ("drums_perc",), False)
    assert fx.silent and fx.audio is None and fx.as_record()["silent"]
    assert whole.equals_mix and np.array_equal(whole.audio, stems.sum(axis=0, dtype=np.float32) * gain)


def test_an_alternate_over_the_ceiling_goes_through_the_limiter_at_the_mixs_gain():
    # two stems that cancel: the mix is quiet, the lead alone peaks 3 dB over full scale at the mix's gain
    stems = np.stack([tone(0.5), tone(-0.45)])
    [lead] = master_alternates(
        sum_alternates(stems, ["melody", "strings"], (("lead_only", ("melody",)),)),
        20 * np.log10(10 ** (3 / 20) / 0.5),
        RATE,
        -1.0,
        LimiterReport(True, -1.2, 0.5, 1),
        loop=False,
        release_ms=80.0,
        lookahead_ms=5.0,
    )
    assert lead.limiter.engaged and lead.limiter.ceiling_db <= -1.2 and lead.limiter.max_gain_reduction_db > 3.5
    assert true_peak_dbtp(lead.audio) == lead.true_peak_dbtp <= -1.05 + 1e-6
    assert lead.as_record()["limited"]
