"""Musicality numbers on hand-built notes and scores: each test breaks if its definition is wrong."""

import numpy as np
import pytest

from bench.melody_mood import FEATURES, SoftmaxRegression, leave_one_out, melody_features
from bench.reference import GRID, bar_grid, grid_notes
from cues.pipelines.compose.musicality import (
    Period,
    allowed_notes,
    chord_runs,
    chromatic_share,
    clash_share,
    flat_sevenths_over_leading_tone,
    harmony_stats,
    interval_stats,
    motif_repetition,
    periods_from_start,
    plan_periods,
    scale_pitch_classes,
    summary,
)
from cues.pipelines.compose.plan import make_plan
from cues.pipelines.compose.quality import measure
from cues.pipelines.compose.score import Note, Score
from cues.schemas.brief import Brief
from cues.schemas.key import Mode

BAR = 16
C_MAJOR = sorted(scale_pitch_classes(0, Mode.major))


def line(pitches, steps=4, start=0):
    return [Note(start + i * steps, start + (i + 1) * steps, p, 80) for i, p in enumerate(pitches)]


def held(pitch, start=0, end=BAR):
    return [Note(start, end, pitch, 70)]


def plan_of(**fields):
    brief = Brief.model_validate(
        {"medium": "film", "mood": "calm", "length": 16, "tempo": 120, "key": "C major", **fields}
    ).resolve()
    return make_plan(brief, brief.seed)


@pytest.mark.parametrize(
    "accompaniment, clashes",
    [(61, True), (71, True), (73, True), (59, True), (62, False), (64, False), (66, False), (60, False)],
)
def test_a_clash_is_a_semitone_minor_ninth_or_major_seventh_and_nothing_else(accompaniment, clashes):
    # C against C#, B, C# an octave up (minor 9th) and B below (major 7th) clash; D, E, F# and C do not
    assert clash_share(held(60), held(accompaniment)) == (1.0 if clashes else 0.0)


def test_clash_share_counts_melody_steps_and_the_on_beat_share_only_beat_starts():
    melody = line([60, 64, 67, 72])  # one note a beat, 4 steps each
    under = [Note(4, 6, 65, 70)]  # F under E for the first half of beat 2 (steps 4 and 5)
    assert clash_share(melody, under) == 2 / 16
    assert clash_share(melody, under, steps_per_beat=4) == 1 / 4
    late = [Note(5, 8, 65, 70)]  # the same clash starting after the beat
    assert clash_share(melody, late, steps_per_beat=4) == 0.0
    assert clash_share([], under) is None
    # steps where the accompaniment sounds alone do not count
    assert clash_share(held(60, 0, 4), [Note(0, 16, 61, 70)]) == 1.0


def test_flat_seventh_counts_only_against_a_sounding_leading_tone():
    # A minor: G (♭7) over G# (leading tone) in beat 1, G over nothing in beat 3, G# itself in the melody not counted
    melody = [Note(0, 4, 67, 80), Note(8, 12, 79, 80), Note(12, 16, 68, 80)]
    under = [Note(2, 6, 56, 70), Note(12, 16, 56, 70)]
    assert flat_sevenths_over_leading_tone(melody, under, tonic=9) == (1, 2)
    assert flat_sevenths_over_leading_tone(melody, [Note(4, 8, 56, 70)], tonic=9) == (0, 2)


def test_a_transposed_bar_counts_as_transposed_and_an_exact_one_as_exact():
    motif = [60, 62, 64, 60]
    bars = line(motif) + line([p + 7 for p in motif], start=BAR) + line(motif, start=2 * BAR)
    result = motif_repetition(bars, [Period(0, 0, 4)], BAR, C_MAJOR)
    assert (result.exact, result.transposed, result.bars) == (1, 1, 2)  # bar 1 transposed, bar 2 exact
    # the same pitches in another rhythm is neither
    other_rhythm = line(motif) + line(motif, steps=2, start=BAR)
    assert motif_repetition(other_rhythm, [Period(0, 0, 2)], BAR, C_MAJOR).bars == 1
    assert motif_repetition(other_rhythm, [Period(0, 0, 2)], BAR, C_MAJOR).exact == 0
    assert motif_repetition(other_rhythm, [Period(0, 0, 2)], BAR, C_MAJOR).transposed == 0


def test_a_diatonic_sequence_is_transposed_and_a_changed_contour_is_not():
    # C D E C → D E F D: a whole tone became a semitone, but in C major it is the same scale steps
    sequence = line([60, 62, 64, 60]) + line([62, 64, 65, 62], start=BAR)
    assert motif_repetition(sequence, [Period(0, 0, 2)], BAR, C_MAJOR).transposed == 1
    contour = line([60, 62, 64, 60]) + line([62, 60, 64, 62], start=BAR)
    assert motif_repetition(contour, [Period(0, 0, 2)], BAR, C_MAJOR).transposed == 0


def test_repetition_skips_first_bars_and_single_note_bars_and_stays_in_its_section():
    motif = line([60, 62, 64, 60])
    # section 1 = bars 0–1, section 2 = bars 2–3; bar 2 repeats bar 0 but is the first bar of its period
    notes = (
        motif + held(72, BAR, 2 * BAR) + line([60, 62, 64, 60], start=2 * BAR) + line([65, 64, 62, 60], start=3 * BAR)
    )
    result = motif_repetition(notes, [Period(0, 0, 2), Period(2, 2, 4)], BAR, C_MAJOR)
    assert (result.exact, result.transposed, result.bars) == (0, 0, 1)  # only bar 3 compared, against bar 2 alone
    assert result.exact_share == 0.0


def test_periods_pair_phrases_and_a_plain_melody_is_cut_from_its_start():
    assert periods_from_start(20) == [Period(0, 0, 8), Period(0, 8, 16), Period(0, 16, 20)]
    plan = plan_of(length=48, form="A-B")  # 24 bars at 120 bpm: two sections of 12 bars = three phrases each
    sections = [s.bars for s in plan.sections]
    assert sections == [12, 12]
    assert plan_periods(plan) == [Period(0, 0, 8), Period(0, 8, 12), Period(12, 12, 20), Period(12, 20, 24)]


def test_interval_stats_on_a_known_line():
    # C E E D C G: intervals +4 0 -2 -2 +7; non-zero directions + - - + → 2 changes of 3 pairs
    stats = interval_stats(line([60, 64, 64, 62, 60, 67]))
    assert stats.mean_abs_interval == pytest.approx(15 / 5)
    assert stats.repeated_note_share == pytest.approx(1 / 5)
    assert stats.direction_change_share == pytest.approx(2 / 3)
    chord = [Note(0, 4, 48, 70), Note(0, 4, 60, 70), Note(4, 8, 62, 70)]
    assert interval_stats(chord).mean_abs_interval == 2.0  # the top line C5 → D5, not the bass
    assert interval_stats(held(60)).mean_abs_interval is None


def test_chords_join_same_numerals_and_count_tonic_bars_at_downbeats():
    spans = [(0, 16, "I"), (16, 32, "I"), (32, 40, "IV"), (40, 48, "I"), (48, 64, "V"), (64, 80, "I")]
    assert chord_runs(spans)[0] == (0, 32, "I")
    stats = harmony_stats(spans, BAR, Mode.major, loop=False)
    assert stats.tonic_bar_share == 3 / 5  # bars 0, 1 and 4 start on I; bar 2 on IV, bar 3 on V
    assert stats.longest_chord_bars == 2.0 and stats.chords_over_4_bars == 0
    assert stats.final_cadence is True


def test_a_cue_ending_iv_v_has_no_cadence_and_a_long_chord_is_counted():
    spans = [(0, 5 * BAR, "I"), (5 * BAR, 6 * BAR, "IV"), (6 * BAR, 7 * BAR, "V")]
    stats = harmony_stats(spans, BAR, Mode.major, loop=False)
    assert stats.final_cadence is False
    assert (stats.longest_chord_bars, stats.chords_over_4_bars) == (5.0, 1)
    # the same chords as a loop lead back into the first I
    assert harmony_stats(spans, BAR, Mode.major, loop=True).final_cadence is True
    assert harmony_stats([(0, BAR, "ii"), (BAR, 2 * BAR, "I")], BAR, Mode.major, loop=False).final_cadence is False


def test_each_modes_own_cadence_chord_closes_it():
    assert harmony_stats([(0, BAR, "VII"), (BAR, 2 * BAR, "I")], BAR, Mode.mixolydian, False).final_cadence  # ♭VII
    assert harmony_stats([(0, BAR, "II"), (BAR, 2 * BAR, "i")], BAR, Mode.phrygian, False).final_cadence  # ♭II
    assert not harmony_stats([(0, BAR, "bVII"), (BAR, 2 * BAR, "I")], BAR, Mode.major, False).final_cadence
    assert harmony_stats([(0, BAR, "V"), (BAR, 2 * BAR, "i")], BAR, Mode.minor, False).final_cadence


def test_chromatic_share_and_passing_tones_allowed_only_with_chromaticism():
    melody = line([60, 61, 62, 66, 64])  # C C# D F# E in C major: C# passes by semitones, F# leaps in and out
    assert chromatic_share(melody, 0, Mode.major) == 2 / 5
    assert allowed_notes(melody, 0, Mode.major, chromatic_steps=True) == [True, True, True, False, True]
    assert allowed_notes(melody, 0, Mode.major, chromatic_steps=False) == [True, False, True, False, True]
    # A minor: F# and G# (raised 6th and 7th) are in key without any chromaticism, A# is not
    assert allowed_notes(line([66, 68, 70]), 9, Mode.minor, False) == [True, True, False]
    assert allowed_notes(line([66, 68]), 9, Mode.dorian, False) == [True, False]


def test_in_key_rate_accepts_the_minor_leading_tone_and_measure_carries_musicality():
    plan = plan_of(key="A minor", mood="calm")  # calm: chromaticism 0
    melody = line([69, 68, 69, 71])  # G# is the raised 7th
    result = measure(Score(plan, {"lead": melody, "pad": line([64, 68, 71], steps=16)}))
    assert result["in_key_rate"] == 1.0
    plan_c = plan_of()
    score = Score(
        plan_c,
        {"lead": line([60, 64, 61, 62]), "pad": held(61, 0, 16)},
        chord_spans=[(0, 8, "V"), (8, 16, "I")],
    )
    block = measure(score)["musicality"]
    assert block == summary(score)
    assert block["clash_share"] == 0.5  # C and D clash with C#; E (a minor third) and C# (unison) do not
    assert block["final_cadence"] is True and block["chromatic_share"] == 0.25


def test_classifier_separates_separable_families_and_not_shuffled_noise():
    rng = np.random.default_rng(0)
    centres = np.eye(5, 8) * 4  # five well-apart clusters in 8 features
    y = np.repeat(np.arange(5), 8)
    x = centres[y] + rng.normal(0, 0.5, (len(y), 8))
    separable = leave_one_out(x, y, 5)
    assert separable.accuracy == 1.0 and separable.chance == 0.2
    assert separable.confusion.trace() == 40 and separable.confusion.sum() == 40
    noise = leave_one_out(rng.normal(0, 1, (40, 8)), y, 5)
    assert noise.accuracy < 0.5


def test_classifier_is_deterministic_and_predicts_its_training_classes():
    x = np.array([[0.0, 1.0], [0.1, 0.9], [1.0, 0.0], [0.9, 0.1]])
    y = np.array([0, 0, 1, 1])
    first = SoftmaxRegression().fit(x, y, 2)
    assert list(first.predict(x)) == [0, 0, 1, 1]
    assert np.array_equal(first.weights, SoftmaxRegression().fit(x, y, 2).weights)


def test_melody_features_read_register_density_syncopation_and_the_third():
    # C major triad line, quarter notes at 120 bpm: 4 notes a bar, 2 a second; then an off-beat E held over beat 3
    melody = line([60, 64, 67, 72]) + [Note(BAR + 2, BAR + 6, 64, 80)]
    values = dict(zip(FEATURES, melody_features(melody, 4, BAR, 120.0, tonic=0), strict=True))
    assert values["register_mean"] == pytest.approx((60 + 64 + 67 + 72 + 64) / 5)
    assert values["notes_per_second"] == pytest.approx(5 / (22 / 4 * 0.5))
    assert values["syncopation"] == pytest.approx(1 / 5) and values["off_beat_share"] == pytest.approx(1 / 5)
    assert values["third_quality"] == pytest.approx(2 / 3)  # two major thirds (E), no minor third
    minor = dict(zip(FEATURES, melody_features(line([60, 63, 67]), 4, BAR, 120.0, tonic=0), strict=True))
    assert minor["third_quality"] == pytest.approx(-1 / 2) and minor["chromatic_share"] == pytest.approx(1 / 3)


def test_reference_puts_a_pickup_before_the_first_bar_line_and_joins_ties():
    from music21 import meter, stream
    from music21 import note as m21note
    from music21.tie import Tie

    part = stream.Part()
    pickup = stream.Measure(number=0)
    pickup.append(meter.TimeSignature("4/4"))
    pickup.append(m21note.Note("G4", quarterLength=1))
    full = stream.Measure(number=1)
    tied = [m21note.Note("C5", quarterLength=2), m21note.Note("C5", quarterLength=2)]
    tied[0].tie, tied[1].tie = Tie("start"), Tie("stop")
    full.append(tied)
    part.append([pickup, full])
    steps_per_beat, steps_per_bar, shift = bar_grid(part)
    assert (steps_per_beat, steps_per_bar, shift) == (GRID, 4 * GRID, 3.0)
    assert grid_notes(part, shift) == [Note(3 * GRID, 4 * GRID, 67, 64), Note(4 * GRID, 8 * GRID, 72, 64)]
