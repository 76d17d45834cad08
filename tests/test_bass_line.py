"""The bass line by groove and the counter-line that answers the lead (issue 16): real plans, the real chord LSTM,
melodies built in code."""

import pytest

from cues.pipelines.compose import bass_line, counter_line
from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.grooves import stroke_steps
from cues.pipelines.compose.musicality import key_pitch_classes, summary
from cues.pipelines.compose.plan import make_plan
from cues.pipelines.compose.progression import Chord, Slot, progression
from cues.pipelines.compose.score import Note
from cues.schemas.brief import Brief
from cues.schemas.grooves import BassStyle, Groove, groove_table
from cues.schemas.palettes import Role

LEVEL = lambda intensity: 70  # noqa: E731  (the counter's velocity does not matter here)


@pytest.fixture(scope="module")
def models():
    return ComposerModels.load()


def brief_of(mood: str, seed: int, **fields) -> Brief:
    data = {"id": "b", "medium": "tv", "mood": [mood], "length": 40, "seed": seed, "intensity": [0.7]}
    return Brief.model_validate(data | fields).resolve()


def bass_of(models, mood: str, seed: int, melody=(), **fields):
    plan = make_plan(brief_of(mood, seed, **fields), seed)
    slots = progression(plan, models.chords, plan.seed)
    return plan, slots, bass_line.bass_part(plan, slots, list(melody), plan.part(Role.bass))


def slot_at(slots, step):
    return next(s for s in slots if s.start <= step < s.end)


def test_every_groove_names_its_bass_style_and_the_plan_records_it():
    styles = {groove: spec.bass for groove, spec in groove_table().items()}
    assert set(styles.values()) == set(BassStyle)  # every style is some groove's
    assert styles[Groove.none] == BassStyle.sustained and styles[Groove.shuffle] == BassStyle.walking
    plan = make_plan(brief_of("suspense", 0), 0)  # suspense's first groove, pulse: a pedal
    assert (plan.groove, plan.bass_line) == (Groove.pulse, BassStyle.pedal)
    assert plan.model_dump(mode="json")["bass_line"] == "pedal"


def test_a_walking_bass_plays_every_beat_and_steps_into_each_new_root(models):
    plan, slots, bass = bass_of(models, "romantic", 1, key="C major", meter="4/4")  # its second groove: brushes
    assert plan.bass_line == BassStyle.walking
    beat = plan.steps_per_beat
    assert [n.start for n in bass] == list(range(0, plan.total_steps, beat))  # a note a beat, each a beat long
    assert all(n.end - n.start == beat for n in bass)
    by_start = {n.start: n for n in bass}
    changes = approaches = 0
    for slot, following in zip(slots, slots[1:], strict=False):
        root = bass_line.chord_tones(plan, following)[0]
        if root == bass_line.chord_tones(plan, slot)[0] or slot.end - slot.start < 2 * beat:
            continue
        changes += 1
        into, onto = by_start[slot.end - beat], by_start[following.start]
        assert onto.pitch % 12 == root  # the new chord starts on its root
        approaches += 1 <= abs(onto.pitch - into.pitch) <= 2  # a step into it
        assert into.pitch % 12 in key_pitch_classes(plan.tonic, plan.mode)
    assert changes >= 4 and approaches == changes
    # strong beats (1 and 3 of 4/4) are chord tones
    for note in bass:
        if note.start % (2 * beat) == 0:
            assert note.pitch % 12 in bass_line.chord_tones(plan, slot_at(slots, note.start))


def test_a_pedal_holds_under_changing_chords_and_cadences_on_their_roots(models):
    plan, slots, bass = bass_of(models, "suspense", 0, key="A minor", intensity=[0.5])
    assert plan.bass_line == BassStyle.pedal
    pedals = {plan.tonic, (plan.tonic + 7) % 12}
    under = {slot.chord for slot in slots if not slot.cadence}
    assert len(under) >= 2  # the chords change above it
    for note in bass:
        slot = slot_at(slots, note.start)
        expected = {bass_line.chord_tones(plan, slot)[0]} if slot.cadence else pedals
        assert note.pitch % 12 in expected
        assert note.start % plan.steps_per_bar == 0 or note.start == slot.start  # held a bar at a time
    # deliberate: the chords the musicality numbers measure are the progression's, none longer than four bars
    cue = compose_cue(brief_of("suspense", 0, key="A minor", intensity=[0.5]), 0, None, models)
    assert cue.plan.bass_line == BassStyle.pedal and summary(cue.score)["chords_over_4_bars"] == 0


def test_a_syncopated_bass_plays_on_the_kicks(models):
    plan, slots, bass = bass_of(models, "happy", 0, key="G major")  # happy's first groove: straight
    assert plan.bass_line == BassStyle.syncopated
    spec, bar, beat = groove_table()[plan.groove], plan.steps_per_bar, plan.steps_per_beat
    kicks = {
        answer: {
            step
            for stroke in [*spec.bar, *(spec.answer if answer else ())]
            if stroke.drum in bass_line.KICKS and stroke.start <= 0.7 < stroke.stop
            for step in stroke_steps(stroke, bar, beat)
        }
        for answer in (False, True)
    }
    starts = {s.start for s in slots}
    pickups = {s.end - bass_line.EIGHTH for s in slots}
    for note in bass:
        answer = (note.start // bar - plan.sections[slot_at(slots, note.start).section].start_bar) % 2 == 1
        assert note.start % bar in kicks[answer] or note.start in starts or note.start in pickups
    assert sum(n.start % bar in kicks[False] | kicks[True] for n in bass) > 0.6 * len(bass)


@pytest.mark.parametrize(
    ("mood", "seed", "style"),
    [
        ("romantic", 1, BassStyle.walking),
        ("tense", 1, BassStyle.pedal),
        ("happy", 0, BassStyle.syncopated),
        ("triumphant", 0, BassStyle.root_fifth),
        ("action", 0, BassStyle.octaves),
        ("calm", 0, BassStyle.sustained),
    ],
)
def test_every_style_stays_in_the_bass_register_and_repeats_itself_exactly(models, mood, seed, style):
    plan, slots, bass = bass_of(models, mood, seed, intensity=[0.4, 0.9])
    part = plan.part(Role.bass)
    assert plan.bass_line == style
    assert bass and all(part.low <= n.pitch <= part.high for n in bass)
    assert part.high < plan.melody_centre + plan.part(Role.lead).transpose - 12  # an octave under the tune
    assert bass_line.bass_part(plan, slots, [], part) == bass  # the same plan, the same notes


def answered_plan(models):
    """A C major plan with one chord a bar (I, V, I, V …), and a lead that runs up in eighths through bar 0 and
    holds G in bar 1."""
    plan = make_plan(brief_of("romantic", 0, key="C major"), 0)
    bar = plan.steps_per_bar
    slots = [Slot(b * bar, (b + 1) * bar, 0, Chord(7 if b % 2 else 0, 0)) for b in range(plan.bars)]
    centre = 72
    run = [Note(2 * k, 2 * k + 2, centre + step, 80) for k, step in enumerate((0, 2, 4, 5, 7, 9, 11, 12))]
    return plan, slots, [*run, Note(bar, 2 * bar, 79, 80)]


def test_the_counter_answers_the_lead_a_bar_later_on_chord_tones(models):
    plan, slots, melody = answered_plan(models)
    part, bar, beat = plan.part(Role.counter), plan.steps_per_bar, plan.steps_per_beat
    counter = counter_line.counter_part(plan, slots, melody, part, LEVEL)
    echo = [n for n in counter if bar + beat <= n.start < 2 * bar]
    # where the lead holds (bar 1 after its first beat), the counter plays the lead's eighths of bar 0 again
    assert [n.start for n in echo] == [n.start + bar for n in melody if beat <= n.start < bar]
    assert echo[-1].pitch > echo[0].pitch  # the run still rises
    for note in counter:
        assert part.low <= note.pitch <= part.high < 79
        if note.start % beat == 0:  # chord tones on the beats
            assert note.pitch % 12 in slot_at(slots, note.start).voiced_pitch_classes(plan)
        else:
            assert note.pitch % 12 in key_pitch_classes(plan.tonic, plan.mode)
    assert counter_line.counter_part(plan, slots, melody, part, LEVEL) == counter


def test_the_counter_rests_while_the_lead_moves_after_an_answer(models):
    plan, slots, melody = answered_plan(models)
    bar = plan.steps_per_bar
    busy = [Note(2 * bar + 2 * k, 2 * bar + 2 * k + 2, 72 + (k % 3) * 2, 80) for k in range(8)]  # bar 2 moves
    counter = counter_line.counter_part(plan, slots, melody + busy, plan.part(Role.counter), LEVEL)
    assert [n.start for n in counter if 2 * bar <= n.start < 3 * bar] == [2 * bar]  # one chord tone struck
    assert all(n.end <= 2 * bar for n in counter if n.start < 2 * bar)  # the answer ends where the lead moves
