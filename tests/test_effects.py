"""The effects part (issue 16): risers that end on the hits and the rising sections' downbeats, impacts that land on
them, timpani rolls in heroic cues; real composed cues with the shipped models, read back from their MIDI bytes."""

import io
import math

import mido
import pytest

from cues.pipelines.compose import effects
from cues.pipelines.compose.arrangement import DYNAMICS
from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.midi_file import TICKS_PER_STEP, midi_length_us
from cues.pipelines.compose.plan import make_plan
from cues.schemas.brief import Brief
from cues.schemas.effects import EffectsTable, effects_table
from cues.schemas.moods import MOODS
from cues.schemas.palettes import Role

ORCHESTRA_HIT = 55


@pytest.fixture(scope="module")
def models():
    return ComposerModels.load()


@pytest.fixture(scope="module")
def epic(models):
    brief = brief_of(mood="epic", length=60, hits=[20.0, 41.5])
    return compose_cue(brief, brief.seed, None, models)


def brief_of(**fields):
    return Brief.model_validate({"medium": "film", "mood": "calm", "length": 30, **fields}).resolve()


def notes_by_channel(midi: bytes) -> dict[int, list[tuple[int, int, int]]]:
    """(on tick, off tick, pitch) of every note of the file, by MIDI channel."""
    found: dict[int, list[tuple[int, int, int]]] = {}
    for track in mido.MidiFile(file=io.BytesIO(midi)).tracks:
        tick, sounding = 0, {}
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity:
                sounding[(message.channel, message.note)] = tick
            elif message.type in ("note_on", "note_off"):
                on = sounding.pop((message.channel, message.note))
                found.setdefault(message.channel, []).append((on, tick, message.note))
    return found


def test_every_mood_has_one_family_of_effects_and_a_calm_cue_no_orchestra_hit():
    table = effects_table()
    assert sorted(m for f in table.families.values() for m in f.moods) == sorted(MOODS)
    for mood in ("calm", "dreamy"):
        assert ORCHESTRA_HIT not in (table.of_mood(mood).riser, table.of_mood(mood).impact)
    assert all(table.of_mood(m).roll for m in ("epic", "triumphant", "action"))
    with pytest.raises(ValueError, match="listed twice \\['calm'\\]"):
        EffectsTable.model_validate(
            {"families": {**table.model_dump()["families"], "extra": {"moods": ["calm"], "riser": 119}}}
        )


def test_a_riser_ends_on_each_hit_and_an_impact_starts_on_it(epic):
    plan, score = epic.plan, epic.score
    riser, impact = plan.part(Role.fx), next(p for p in plan.parts if p.name == effects.IMPACT)
    assert (riser.program, impact.program, riser.stem, impact.stem) == (119, 47, "fx", "fx")
    played = notes_by_channel(epic.midi)
    for hit in plan.hits:
        tick = hit.step * TICKS_PER_STEP
        assert any(off == tick for _, off, _ in played[riser.channel]), hit
        assert any(on == tick for on, _, _ in played[impact.channel]), hit
        assert abs(epic.score.seconds(hit.step) - hit.requested_s) <= 0.010
    # the timpani roll under the riser's last beats: a crescendo of sixteenths into the hit
    first = plan.hits[0].step
    roll = [
        n for n in score.parts[effects.IMPACT] if first - effects.ROLL_BEATS * plan.steps_per_beat <= n.start < first
    ]
    assert len(roll) == effects.ROLL_BEATS * plan.steps_per_beat
    assert [n.velocity for n in roll] == sorted(n.velocity for n in roll) and roll[0].velocity < roll[-1].velocity


def test_a_section_that_rises_gets_a_riser_into_its_downbeat_that_swells_to_full(epic):
    plan, score = epic.plan, epic.score
    rises = [t for t in effects.targets(plan) if not t.hit]
    assert rises, [s.intensity for s in plan.sections]
    ends = {n.end for n in score.parts[effects.RISER]}
    ramp = {c.step: c.value for c in score.controls[effects.RISER] if c.number == effects.EXPRESSION}
    for target in rises:  # the swell peaks on the downbeat (where the next riser, if any, starts soft again)
        assert target.step in ends
        assert ramp[target.step - plan.steps_per_beat] < ramp[target.step - 1] >= effects.FULL - 16
    # the rest of the ensemble's crescendo ramps leave the riser alone: its part has only its own swells
    assert all(c.value >= effects.SWELL_FROM for c in score.controls[effects.RISER])


def test_effects_stay_inside_a_loop_and_a_cutdown_and_are_deterministic(models):
    loop = brief_of(mood="action", medium="ad", length=40, ending="loop", hits=[18.0], cutdowns=[15])
    cue = compose_cue(loop, loop.seed, None, models)
    total = cue.plan.total_steps
    fx = [n for p in cue.plan.parts if p.role == Role.fx for n in cue.score.parts[p.name]]
    assert fx and all(0 <= n.start < n.end <= total for n in fx)
    assert cue.score.controls[effects.RISER][-1].value == effects.FULL  # the seam plays on at full expression
    assert compose_cue(loop, loop.seed, None, models).midi == cue.midi
    cut = compose_cue(loop, loop.seed, 15, models)
    assert not cut.plan.hits and midi_length_us(cut.midi) == round(cut.plan.length_s * 1e6)
    for part in (p for p in cut.plan.parts if p.role == Role.fx):
        assert all(n.end <= cut.plan.total_steps for n in cut.score.parts[part.name])


def test_calm_cues_swell_on_a_pad_without_impacts_and_a_briefs_instruments_have_no_effects():
    for seed in range(4):
        plan = make_plan(brief_of(mood="calm", length=60, hits=[25.0], seed=seed), seed)
        assert [p.program for p in plan.parts if p.role == Role.fx] == [89]
    plan = make_plan(brief_of(mood="epic", instruments=["piano", "strings"]), 1)
    assert plan.part(Role.fx) is None


def test_targets_are_the_hits_and_the_clear_rises_a_rise_near_a_hit_being_the_hits():
    plan = make_plan(brief_of(mood="tense", medium="trailer", length=60, hits=[30.0]), 5)
    found = effects.targets(plan)
    hits = {h.step for h in plan.hits}
    assert {t.step for t in found if t.hit} == hits
    for target in (t for t in found if not t.hit):
        section = next(s for s in plan.sections if s.start_bar * plan.steps_per_bar == target.step)
        before = plan.sections[plan.sections.index(section) - 1]
        assert section.intensity - before.intensity >= effects.RISE_STEP - 1e-9
        assert all(abs(target.step - h) >= plan.steps_per_beat for h in hits)


def test_the_loud_moods_build_most_from_a_soft_start_common_to_all():
    """Arcs start near one soft floor; the heroic moods climb highest and get the most decibels per step."""
    spans = {}
    for mood in ("epic", "happy", "calm"):
        plan = make_plan(brief_of(mood=mood, length=60), 2)
        levels = [s.intensity for s in plan.sections]
        assert min(levels) <= 0.15 and levels[0] == min(levels), (mood, levels)
        spans[mood] = max(levels) - min(levels)
    assert spans["epic"] > spans["happy"] > spans["calm"] >= 0.45
    db = {v: 40 * math.log10(DYNAMICS.at(v, 1.0) / DYNAMICS.at(v, 0.0)) for v in (104, 84, 64)}  # per unit
    assert db[104] > db[84] > db[64] >= 15
    step = [40 * math.log10(DYNAMICS.at(104, i + 0.1) / DYNAMICS.at(104, i)) for i in (0.0, 0.45, 0.9)]
    assert max(step) - min(step) < 1e-9  # each step of intensity is heard alike, soft or loud
