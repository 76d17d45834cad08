"""Issue 16's score measures (pipelines/compose/texture.py) on hand-built scores whose answer is known."""

import pytest

from cues.pipelines.compose.plan import make_plan
from cues.pipelines.compose.score import Note, Score
from cues.pipelines.compose.texture import (
    drum_parts,
    ensemble,
    has_arc,
    intensity_span,
    layers_per_section,
    plays_in_sections,
    repeated_bars,
    silent_parts,
)
from cues.schemas.brief import Brief

BAR = 16  # steps of a 4/4 bar


@pytest.fixture(scope="module")
def plan():
    """Two sections of 4 bars each (A: bars 0–3, B: bars 4–7) in 4/4."""
    brief = Brief.model_validate(
        {"medium": "film", "mood": "happy", "length": 16, "tempo": 120, "key": "C major", "form": "AB"}
    ).resolve()
    made = make_plan(brief, brief.seed)
    assert [(s.start_bar, s.bars) for s in made.sections] == [(0, 4), (4, 4)]
    return made


def with_intensities(plan, *intensities):
    sections = tuple(s.model_copy(update={"intensity": i}) for s, i in zip(plan.sections, intensities, strict=True))
    return plan.model_copy(update={"sections": sections})


def test_layers_count_the_parts_sounding_in_each_section(plan):
    parts = {
        "melody": [Note(0, 8, 72, 80)],  # A only
        "harmony": [Note(3 * BAR, 5 * BAR, 60, 70)],  # held from A into B: heard in both
        "bass": [Note(4 * BAR, 4 * BAR + 4, 36, 70)],  # B only
        "percussion": [],
    }
    score = Score(plan, parts)
    assert layers_per_section(score) == [2, 2]
    assert plays_in_sections(score, "melody") == [True, False]
    assert plays_in_sections(score, "strings") == [False, False]
    assert silent_parts(score) == ["percussion"]
    parts["bass"].append(Note(2 * BAR, 2 * BAR + 1, 36, 70))
    assert layers_per_section(Score(plan, parts)) == [3, 2]


def test_identical_drum_bars_ignore_velocity_but_not_drums_or_steps():
    kick_snare = [(0, 36), (4, 38), (8, 36), (12, 38)]

    def bar(index, hits, velocity=90):
        return [Note(index * BAR + step, index * BAR + step + 1, drum, velocity) for step, drum in hits]

    notes = [
        *bar(0, kick_snare),
        *bar(1, kick_snare, velocity=60),  # a quieter copy is the same bar
        *bar(2, [*kick_snare[:3], (12, 45)]),  # a tom in place of the last snare: varied
        *bar(3, [(s + 2, d) for s, d in kick_snare]),  # shifted by a 16th: varied
        # bar 4 is empty: not counted
        *bar(5, kick_snare),
    ]
    repetition = repeated_bars(notes, BAR)
    assert (repetition.identical, repetition.bars) == (3, 5)
    assert repetition.share == pytest.approx(0.6)
    assert repeated_bars([], BAR).share is None


def test_the_arc_is_the_span_of_the_sections_intensities(plan):
    flat, building = with_intensities(plan, 0.5, 0.58), with_intensities(plan, 0.3, 0.7)
    assert intensity_span(flat) == pytest.approx(0.08)
    assert not has_arc(flat)
    assert intensity_span(building) == pytest.approx(0.4)
    assert has_arc(building)  # 0.7 - 0.3 is 0.39999… in floating point: still an arc


def test_drums_and_ensemble_come_from_the_plans_parts(plan):
    assert drum_parts(Score(plan, {"lead": [], "drums": []})) == ["drums"]
    assert [name for name, _ in ensemble(plan)] == [p.name for p in plan.parts]
    assert [name for name, _ in ensemble(plan)][:1] == ["lead"]
    assert all(0 <= program <= 127 for _, program in ensemble(plan))
