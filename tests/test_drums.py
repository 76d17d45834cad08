"""Drums and grooves, plans with an arc, hits that are felt (issue 16): real composed cues, the shipped models."""

import random

import pytest

from cues.pipelines.compose import texture
from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.crescendo import EXPRESSION, FULL, crescendo_spans
from cues.pipelines.compose.drum_kit import ORCHESTRA_KIT, drum_note
from cues.pipelines.compose.drums import DRUM_PART, drum_kit, percussion_part, preparations
from cues.pipelines.compose.grooves import groove_bar
from cues.pipelines.compose.plan import make_plan
from cues.schemas.brief import Brief
from cues.schemas.grooves import Drum, Groove, groove_table
from cues.schemas.mood_table import mood_table
from cues.schemas.moods import MOODS


@pytest.fixture(scope="module")
def models():
    return ComposerModels.load()


def brief_of(**fields):
    return Brief.model_validate({"medium": "film", "mood": "calm", "length": 30, **fields}).resolve()


def test_every_mood_has_at_least_three_grooves_and_every_groove_varies():
    table, grooves = mood_table(), groove_table()
    for mood in MOODS:
        assert len(set(table[mood].grooves)) == len(table[mood].grooves) >= 3, mood
    assert set(grooves) == set(Groove)
    for name, spec in grooves.items():
        if name != Groove.none:
            assert spec.bar and spec.variations and spec.ghosts is not None, name


def test_successive_variations_play_different_grooves():
    brief = brief_of(mood="happy", medium="tv")
    grooves = [make_plan(brief, brief.seed + k).groove for k in range(4)]
    assert sorted(grooves) == sorted(mood_table()["happy"].grooves)


def test_a_bar_thins_with_intensity_and_varies_from_bar_to_bar():
    spec = groove_table()[Groove.straight]
    quiet = groove_bar(spec, 16, 4, 0.2, False, random.Random(1))
    loud = groove_bar(spec, 16, 4, 0.9, False, random.Random(1))
    assert {d for _, d, _ in quiet} <= {Drum.kick} and Drum.ride in {d for _, d, _ in loud}
    bars = {tuple(groove_bar(spec, 16, 4, 0.7, False, random.Random(k))) for k in range(12)}
    assert len(bars) >= 8


def test_drum_bars_of_a_real_cue_rarely_repeat(models):
    brief = brief_of(mood="action", length=60, medium="trailer")
    cue = compose_cue(brief, 3, None, models)
    repetition = texture.repeated_bars(cue.score.parts[DRUM_PART], cue.plan.steps_per_bar)
    assert repetition.bars >= 20 and repetition.share <= 0.4


def test_film_trailer_and_ad_cues_of_30_s_build_unless_the_brief_pins_intensity():
    for mood in MOODS:
        for medium in ("film", "trailer", "ad"):
            plan = make_plan(brief_of(mood=mood, medium=medium, length=45), 1)
            assert texture.has_arc(plan), (mood, medium)
            assert any(note.startswith("intensity arc") for note in plan.notes)
    assert not texture.has_arc(make_plan(brief_of(medium="tv", length=45), 1))
    assert not texture.has_arc(make_plan(brief_of(length=20), 1))
    pinned = make_plan(brief_of(length=60, intensity=0.5), 1)
    assert {s.intensity for s in pinned.sections} == {0.5}
    listed = make_plan(brief_of(length=60, form="A-B-A'", intensity=[0.3, 0.4, 0.35]), 1)
    assert [s.intensity for s in listed.sections] == [0.3, 0.4, 0.35]


def test_the_climax_is_at_the_last_hit_and_a_cutdown_follows_its_parent():
    brief = brief_of(mood="epic", length=60, form="intro-A-B-A'-outro", hits=[24.0])
    plan = make_plan(brief, 2)
    climax = max(plan.sections, key=lambda s: s.intensity)
    assert climax.start_s <= 24.0 < climax.end_s and climax.label != "A'"
    full = make_plan(brief_of(mood="epic", length=90), 2)
    cut = make_plan(brief_of(mood="epic", length=90), 2, brief_of(length=30).length, full)
    parent = {s.label: s.intensity for s in full.sections}
    assert all(s.intensity == parent[s.label] for s in cut.sections if s.label in parent)


def test_a_hit_is_prepared_by_a_roll_and_lands_within_10_ms(models):
    brief = brief_of(mood="epic", length=40, hits=[20.0])
    cue = compose_cue(brief, 1, None, models)
    plan, drums = cue.plan, cue.score.parts[DRUM_PART]
    (hit,) = plan.hits
    assert hit.achievable and abs(cue.score.seconds(hit.step) - 20.0) <= 0.010
    kit, tonic = drum_kit(plan), plan.tonic
    assert kit == ORCHESTRA_KIT  # the epic mood's kit: the roll is on the tonic's timpani
    ((start, end),) = preparations(plan)
    assert end == hit.step and end - start >= plan.steps_per_beat
    roll = [n for n in drums if start <= n.start < end and n.pitch == drum_note(Drum.timpani_root, kit, tonic)]
    assert len(roll) == end - start  # every sixteenth
    assert [n.velocity for n in roll] == sorted(n.velocity for n in roll) and roll[-1].velocity > 2 * roll[0].velocity
    landing = {n.pitch for n in drums if n.start == hit.step}
    assert {drum_note(Drum.crash, kit, tonic), drum_note(Drum.timpani_root, kit, tonic)} <= landing
    # the pitched parts swell into it on CC 11, and are at full expression on the hit
    melody = [c for c in cue.score.controls["lead"] if c.number == EXPRESSION and start <= c.step <= end]
    assert min(c.value for c in melody) < 90 and melody[-1].step == end and melody[-1].value == FULL


def test_the_orchestra_kit_tunes_its_timpani_and_crashes_on_a_cymbal():
    d = 2  # D: the timpani a fifth apart on D and A
    assert (
        drum_note(Drum.timpani_root, ORCHESTRA_KIT, d) == 50 and drum_note(Drum.timpani_fifth, ORCHESTRA_KIT, d) == 45
    )
    assert drum_note(Drum.crash, ORCHESTRA_KIT, d) == 57 and drum_note(Drum.crash, 0, d) == 49


def test_a_cue_without_a_groove_has_an_empty_drum_part_but_its_hits_still_land(models):
    brief = brief_of(mood="calm", medium="tv", length=20)
    seed = next(s for s in range(8) if make_plan(brief, s).groove == Groove.none)
    assert percussion_part(make_plan(brief, seed)) == []
    cue = compose_cue(brief.model_copy(update={"hits": (10.0,)}), seed, None, models)
    assert (
        cue.score.parts[DRUM_PART] and min(n.start for n in cue.score.parts[DRUM_PART]) >= preparations(cue.plan)[0][0]
    )


def test_drums_and_crescendos_are_deterministic_and_a_loop_ends_at_full_expression(models):
    brief = brief_of(mood="triumphant", length=45, ending="loop", medium="trailer")
    first, again = compose_cue(brief, 5, None, models), compose_cue(brief, 5, None, models)
    assert first.midi == again.midi
    assert crescendo_spans(first.plan)  # the arc rises, so the sections are prepared
    for controls in first.score.controls.values():
        assert controls[-1].value == FULL
