"""The melody over its chords, with the shipped default models: strong beats on chord tones or resolving
dissonances, minor's leading tone over V, motifs shared by a brief's variations, repeated bars in every period,
mood in the intervals, determinism; and the pure line fitting and motif development on hand-made lines."""

import pytest

from cues.pipelines.compose import motifs
from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.line_fit import Harmony, fit_line, smooth_zigzags, to_line, to_tokens
from cues.pipelines.compose.melody import MelodyModels, cue_motif
from cues.pipelines.compose.motif_fit import fit_motif
from cues.pipelines.compose.phrases import phrase_spans
from cues.pipelines.compose.plan import make_plan
from cues.pipelines.compose.progression import progression
from cues.schemas.brief import Brief
from cues.schemas.key import MODE_INTERVALS, Mode
from cues.schemas.moods import MOODS

METERS = ("4/4", "3/4", "6/8", "2/4")
KEYS = ("D minor", "G major", "E minor", "Bb major", "C minor", "A dorian")


@pytest.fixture(scope="module")
def models():
    return ComposerModels.load()


def brief_of(**fields):
    return Brief.model_validate({"medium": "film", "mood": "calm", "length": 30, **fields}).resolve()


def varied_briefs(count: int):
    return [
        brief_of(
            mood=MOODS[i % len(MOODS)], meter=METERS[i % len(METERS)], key=KEYS[i % len(KEYS)], length=20 + 7 * (i % 5),
            ending=("ring_out", "button", "cut", "fade")[i % 4], seed=100 + i,
        )
        for i in range(count)
    ]  # fmt: skip


def tones_per_step(cue, models) -> list[frozenset[int]]:
    """Pitch classes of the chord sounding at every step (absolute), from the same progression the composer played."""
    tones = []
    for slot in progression(cue.plan, models.chords, cue.plan.seed):
        tones += [frozenset(slot.chord.pitch_classes(cue.plan.tonic))] * (slot.end - slot.start)
    return tones


STRONG = {"4/4": (0, 8), "3/4": (0,), "2/4": (0,), "6/8": (0, 6)}


def test_strong_beat_notes_are_chord_tones_or_resolving_dissonances(models):
    checked = 0
    for brief in varied_briefs(10):
        cue = compose_cue(brief, brief.seed, None, models)
        plan, tones = cue.plan, tones_per_step(cue, models)
        melody = sorted(cue.score.parts["lead"])
        for note, after in zip(melody, melody[1:] + [None], strict=True):
            if note.start % plan.steps_per_bar not in STRONG[plan.meter] or note.pitch % 12 in tones[note.start]:
                continue
            # a suspension or appoggiatura: resolved by step to a chord tone within the beat
            assert after is not None, (brief.id, note)
            assert 1 <= abs(after.pitch - note.pitch) <= 2, (brief.mood, plan.meter, note, after)
            assert after.start - note.start <= plan.steps_per_beat and after.pitch % 12 in tones[after.start]
        checked += sum(n.start % plan.steps_per_bar in STRONG[plan.meter] for n in melody)
    assert checked > 200


def test_minor_melodies_never_sound_flat_seven_over_the_leading_tone(models):
    flat_sevens = 0
    for i, mood in enumerate(("sad", "tense", "epic", "action", "dark", "melancholic", "romantic", "suspense")):
        brief = brief_of(mood=mood, key=("D minor", "F# minor", "C minor")[i % 3], meter=METERS[i % 4], seed=i)
        cue = compose_cue(brief, brief.seed, None, models)
        tonic, tones = cue.plan.tonic, tones_per_step(cue, models)
        for note in cue.score.parts["lead"]:
            if (note.pitch - tonic) % 12 == 10:
                flat_sevens += 1
                held = [tones[s] for s in range(note.start, min(note.end, len(tones)))]
                assert all((tonic + 11) % 12 not in chord for chord in held), (mood, note)
    assert flat_sevens > 0  # the natural 7th still sounds where the chord allows it


def test_a_briefs_variations_and_cutdowns_share_their_motif(models):
    bundle = MelodyModels(models.melody, models.chord_vocabulary, models.vae)
    for meter in ("4/4", "3/4"):
        brief = brief_of(mood="romantic", key="F major", meter=meter, length=40, seed=11, variations=3)
        found = []
        for seed in (11, 12, 13):  # variations 1–3 (expansion.py: the brief's seed + variation − 1)
            plan = make_plan(brief, seed)
            found.append(cue_motif(plan, progression(plan, models.chords, seed), bundle))
        cut = make_plan(brief, 12, None, make_plan(brief, 12))
        assert found[0] == found[1] == found[2] == cue_motif(cut, progression(cut, models.chords, 12), bundle)
        other = make_plan(brief.model_copy(update={"seed": 99}), 11)
        assert cue_motif(other, progression(other, models.chords, 11), bundle) != found[0]


def bar_shape(melody, plan, bar):
    lo, hi = bar * plan.steps_per_bar, (bar + 1) * plan.steps_per_bar
    notes = [n for n in melody if lo <= n.start < hi]
    return [(n.start - lo, min(n.end, hi) - n.start) for n in notes], [n.pitch for n in notes]


def diatonic(pitches, plan):
    scale = MODE_INTERVALS[plan.mode]
    steps = [motifs.degree(p - plan.tonic, scale) for p in pitches]
    return [b[0] - a[0] for a, b in zip(steps, steps[1:], strict=False)]


def test_each_period_repeats_or_sequences_earlier_bars(models):
    periods = with_repeat = bars = repeated = 0
    for brief in varied_briefs(12):
        cue = compose_cue(brief, brief.seed, None, models)
        plan, melody = cue.plan, sorted(cue.score.parts["lead"])
        phrases = phrase_spans(plan)
        for first, second in zip(phrases, phrases[1:], strict=False):
            if first.section != second.section or first.index % 2:
                continue
            start = plan.sections[first.section].start_bar
            found = 0
            for bar in range(first.start_bar + 1, second.end_bar):
                rhythm, pitches = bar_shape(melody, plan, bar)
                if len(rhythm) < 2:
                    continue
                bars += 1
                earlier = [bar_shape(melody, plan, b) for b in range(start, bar)]
                found += any(r == rhythm and (diatonic(p, plan) == diatonic(pitches, plan)) for r, p in earlier)
            periods += 1
            with_repeat += found > 0
            repeated += found
    assert periods >= 10
    assert with_repeat >= 0.8 * periods and repeated >= 0.15 * bars, (with_repeat, periods, repeated, bars)


def test_epic_melodies_leap_and_sad_ones_step(models):
    def mean_interval(mood):
        intervals = []
        for seed in range(4):
            brief = brief_of(mood=mood, key="D minor", length=40, seed=seed)
            pitches = [n.pitch for n in sorted(compose_cue(brief, seed, None, models).score.parts["lead"])]
            intervals += [abs(b - a) for a, b in zip(pitches, pitches[1:], strict=False)]
        return sum(intervals) / len(intervals)

    assert mean_interval("epic") > mean_interval("sad") + 0.5


@pytest.mark.parametrize("meter,mood", [("4/4", "tense"), ("3/4", "sad"), ("6/8", "playful"), ("2/4", "epic")])
def test_the_same_brief_gives_the_same_melody(models, meter, mood):
    brief = brief_of(mood=mood, meter=meter, key="E minor", length=25, seed=3)
    first, again = compose_cue(brief, 3, None, models), compose_cue(brief, 3, None, models)
    assert first.score.parts["lead"] == again.score.parts["lead"] and first.midi == again.midi
    assert compose_cue(brief, 4, None, models).score.parts["lead"] != first.score.parts["lead"]


# --- the pure functions, on hand-made lines ------------------------------------------------------------------------

TONIC, V = frozenset({0, 3, 7}), frozenset({7, 11, 2})


def harmony(*chords, bar=16, mode=Mode.minor):
    """One chord per 4/4 bar (relative pitch classes)."""
    tones = tuple(c for c in chords for _ in range(bar))
    return Harmony(tones, frozenset(MODE_INTERVALS[mode]), 4, bar, (0, 8), mode == Mode.minor)


def line(*notes, steps=32):
    """Notes as (start, end, relative pitch; 60 = the tonic in octave 5)."""
    return to_tokens([list(n) for n in notes], steps)


def test_fitting_moves_a_strong_beat_off_the_chord_to_a_chord_tone_and_keeps_a_passing_tone():
    fitted = to_line(fit_line(line((0, 2, 62), (2, 4, 63), (4, 8, 65), (8, 16, 67)), 0, harmony(TONIC, V)))
    assert fitted[0][2] % 12 in TONIC  # D on the downbeat of i, leaping away: not prepared, moved
    assert fitted[2][2] == 65 and fitted[3][2] == 67  # F passes from E♭ to G on a weak beat


def test_fitting_raises_the_seventh_over_the_dominant_and_the_sixth_climbing_into_it():
    notes = line((16, 26, 67), (26, 28, 68), (28, 32, 70), (32, 40, 72), steps=48)
    fitted = to_line(fit_line(notes, 0, harmony(TONIC, V, TONIC)))
    assert [n[2] % 12 for n in fitted] == [7, 9, 11, 0]  # G–A♭–B♭–C over V: G–A–B–C, no ♭7, no augmented second


def test_fitting_keeps_a_prepared_suspension_that_resolves_down_a_step():
    # in major, D repeated over the bar line into I is a 9th (no semitone with C, E, G) and resolves down to C: kept
    major_tonic = frozenset({0, 4, 7})
    suspension = line((12, 16, 62), (16, 20, 62), (20, 24, 60))
    fitted = to_line(fit_line(suspension, 0, harmony(V, major_tonic, mode=Mode.major)))
    assert [n[2] for n in fitted] == [62, 62, 60]
    # in minor the same D would sound against E♭, the note it resolves to: moved to a chord tone
    assert to_line(fit_line(suspension, 0, harmony(V, TONIC)))[1][2] % 12 in TONIC


def test_a_motif_fitted_keeps_its_rhythm_and_each_intervals_direction():
    # C major's tonic chord throughout. Line fitting moves the downbeat's D and the weak F (before E) to chord tones:
    # D–E–F–E becomes C–E–E–E, two steps collapsed into repeats. The motif's fit keeps every direction.
    major_tonic = frozenset({0, 4, 7})
    decoded = line((0, 4, 62), (4, 6, 64), (6, 8, 65), (8, 12, 64), (12, 16, 67), steps=16)
    tonic = harmony(major_tonic, mode=Mode.major, bar=16)
    assert [n[2] for n in to_line(fit_line(decoded, 0, tonic))].count(64) == 3
    fitted = to_line(fit_motif(decoded, 0, tonic))
    assert [n[:2] for n in fitted] == [n[:2] for n in to_line(decoded)]  # the rhythm as decoded
    assert fitted[0][2] % 12 in major_tonic  # the downbeat on a chord tone
    moves = [b[2] - a[2] for a, b in zip(fitted, fitted[1:], strict=False)]
    assert [(m > 0) - (m < 0) for m in moves] == [1, 1, -1, 1]  # the contour as decoded


def test_a_zigzag_is_smoothed_by_a_passing_tone_or_a_neighbour_never_a_repeat():
    major_tonic = frozenset({0, 4, 7})
    tonic = harmony(major_tonic, mode=Mode.major, bar=16)

    def smoothed(*notes):
        return [n[2] for n in to_line(smooth_zigzags(line(*notes, steps=16), 0, tonic, keep_opening=False))]

    # C–E–C–G: the second C turns the line twice; F passes from E to G
    assert smoothed((0, 4, 60), (4, 6, 64), (6, 8, 60), (8, 16, 67)) == [60, 64, 65, 67]
    # C–E–A–F–G: F turns it twice and no scale step lies between A and G. It was A again (a repeat); now B, a step
    # above A that turns the line once on its way down to G
    assert smoothed((0, 4, 60), (4, 5, 64), (5, 6, 69), (6, 7, 65), (7, 16, 67)) == [60, 64, 69, 71, 67]


def test_motif_development_keeps_rhythm_and_scale_steps():
    scale = MODE_INTERVALS[Mode.major]
    motif = line((0, 4, 60), (4, 6, 64), (6, 8, 62), (8, 16, 67), steps=16)
    up = motifs.sequence(motif, 1, scale)
    assert [n[2] for n in to_line(up)] == [62, 65, 64, 69] and [n[:2] for n in to_line(up)] == [
        n[:2] for n in to_line(motif)
    ]
    assert [n[2] for n in to_line(motifs.invert(motif, scale))] == [60, 57, 59, 53]
    assert [n[:2] for n in to_line(motifs.augment(motif))] == [[0, 8], [8, 12], [12, 16]]
