"""Quality numbers of hand-written scores: key adherence, entropy, groove, music21's key, form, hits, stems."""

import json
import math

import pytest

from cues.pipelines.compose.plan import make_plan
from cues.pipelines.compose.quality import groove_consistency, measure
from cues.pipelines.compose.score import Note, Score
from cues.pipelines.compose.tempo_map import TempoMap
from cues.schemas.brief import Brief

C_MAJOR_SCALE = [60, 62, 64, 65, 67, 69, 71]
BAR = 16  # steps in a 4/4 bar


def plan_of(**fields):
    brief = Brief.model_validate(
        {"medium": "film", "mood": "calm", "length": 12, "tempo": 120, "key": "C major", **fields}
    ).resolve()
    return make_plan(brief, brief.seed)


def line(pitches, steps=4, start=0):
    """Consecutive notes of ``steps`` grid steps each."""
    return [Note(start + i * steps, start + (i + 1) * steps, p, 80) for i, p in enumerate(pitches)]


def test_scale_melody_is_in_key_and_chromatic_is_seven_twelfths():
    plan = plan_of()
    scale = measure(Score(plan, {"lead": line(C_MAJOR_SCALE)}))
    assert scale["in_key_rate"] == 1.0
    assert scale["in_key_rate_per_stem"] == {  # the plan's pitched parts, its riser (fx) included
        "lead": 1.0,
        "counter": None,
        "pad": None,
        "figure": None,
        "bass": None,
        "fx": None,
    }
    assert scale["pitch_class_entropy"] == round(math.log2(7), 4)

    chromatic = measure(Score(plan, {"lead": line(range(60, 72)), "bass": line([36, 43])}))
    assert chromatic["in_key_rate_per_stem"]["lead"] == round(7 / 12, 4)
    assert chromatic["in_key_rate"] == round(9 / 14, 4)  # C and G in the bass are in key, each counted once
    assert chromatic["pitch_class_entropy"] == round(math.log2(12), 4)
    # Pitch classes 0 and 7 twice, ten others once, among 14 notes.
    expected_all = 2 * (2 / 14) * math.log2(14 / 2) + 10 * (1 / 14) * math.log2(14)
    assert chromatic["pitch_class_entropy_all"] == round(expected_all, 4)


def test_percussion_does_not_count_as_pitch():
    plan = plan_of()
    result = measure(Score(plan, {"lead": line([60, 62]), "drums": line([37, 39, 42])}))
    assert result["in_key_rate"] == 1.0 and result["pitch_class_entropy_all"] == 1.0
    assert "drums" not in result["in_key_rate_per_stem"]


def test_music21_finds_c_major_in_a_cadence():
    plan = plan_of()
    chords = [(48, 64, 67), (53, 65, 69), (55, 62, 67), (48, 64, 67)]  # I IV V I
    harmony = [Note(i * BAR, (i + 1) * BAR, p, 70) for i, chord in enumerate(chords) for p in chord]
    melody = line([72, 74, 76, 77, 77, 76, 74, 72, 71, 74, 79, 74, 72, 67, 64, 72])
    result = measure(Score(plan, {"lead": melody, "pad": harmony}))
    estimate = result["key_estimate"]
    assert (estimate["tonic"], estimate["tonic_pc"], estimate["mode"]) == ("C", 0, "major")
    assert estimate["correlation"] > 0.8
    assert result["key_match"] is True and result["tonic_match"] is True


def test_flat_tonic_is_spelled_with_b_and_a_modal_plan_has_no_key_match():
    bb_plan = plan_of(key="Bb major")
    bb = [Note(0, BAR, p, 70) for p in (46, 62, 65)] + line([70, 72, 74, 75, 77, 74, 70, 70], start=BAR)
    result = measure(Score(bb_plan, {"pad": bb}))
    assert (result["key_estimate"]["tonic"], result["key_match"]) == ("Bb", True)

    dorian = plan_of(key="D dorian")
    drone = [Note(0, 4 * BAR, 38, 70)]
    tune = line([62, 65, 69, 71, 69, 67, 65, 64, 62, 60, 62, 69, 65, 62], start=0)
    result = measure(Score(dorian, {"lead": tune, "bass": drone}))
    # music21 knows only major and minor: D dorian over a D drone reads as D minor, a tonic match only.
    assert (result["key_estimate"]["tonic"], result["key_estimate"]["mode"]) == ("D", "minor")
    assert result["key_match"] is None and result["tonic_match"] is True
    assert result["in_key_rate"] == 1.0


def test_repeating_percussion_bar_is_perfectly_consistent_and_a_varying_one_is_not():
    plan = plan_of()  # 6 bars of 4/4
    assert plan.bars == 6
    bar = [0, 4, 8, 10, 12]
    steady = [Note(b * BAR + s, b * BAR + s + 1, 42, 90) for b in range(6) for s in bar]
    result = measure(Score(plan, {"drums": steady}))
    assert result["groove_consistency"] == result["groove_consistency_percussion"] == 1.0

    # Bars alternate between four and two onsets: each neighbour pair differs at 2 of 16 steps.
    varying = [Note(b * BAR + s, b * BAR + s + 1, 42, 90) for b in range(6) for s in ([0, 4, 8, 12], [0, 8])[b % 2]]
    result = measure(Score(plan, {"drums": varying, "lead": line([60], steps=BAR)}))
    assert result["groove_consistency_percussion"] == 1 - 2 / 16
    # The melody's single onset on step 0 coincides with the drums and changes nothing.
    assert result["groove_consistency"] == 1 - 2 / 16


def test_groove_is_none_for_one_bar_or_no_notes_and_counts_silent_bars():
    assert groove_consistency([Note(0, 1, 36, 90)], BAR, 1) is None
    assert groove_consistency([], BAR, 6) is None
    # One onset in bar 1 of 3: bar 1→2 differs at 1 step, bar 2→3 at none.
    assert groove_consistency([Note(0, 1, 36, 90)], BAR, 3) == 1 - 1 / 32
    one_bar = plan_of(length=3, tempo=80)
    assert one_bar.bars == 1
    result = measure(Score(one_bar, {"lead": line([60])}))
    assert result["groove_consistency"] is None and result["groove_consistency_percussion"] is None


def test_a_and_a_prime_are_more_alike_than_a_and_b():
    plan = plan_of(length=16, form="intro-A-B-A'")
    assert [(s.label, s.bars) for s in plan.sections] == [("intro", 2), ("A", 2), ("B", 2), ("A'", 2)]
    a = [20, 1, 1, 1, 22, 1, 0, 0] * 4
    b = a[:8] + [2] * 24  # shares A's first 8 of 32 steps: 2 equal onsets of the 26 steps where either has one
    result = measure(Score(plan, {"lead": line([60])}, section_melodies=[a, a, b, list(a)]))
    # The intro's tokens equal A's, but it is not a lettered section and takes no part.
    assert result["section_similarity"] == {"same_letter": 1.0, "different_letter": 0.0769, "same_more_similar": True}


def test_long_notes_in_common_do_not_make_different_melodies_alike():
    plan = plan_of(length=16, form="A-B")
    a, b = [20] + [1] * 31, [30] + [1] * 31  # one whole-section note each, different pitches
    assert measure(Score(plan, {}, section_melodies=[a, b]))["section_similarity"]["different_letter"] == 0.0


def test_section_similarity_without_tokens_or_repeats_is_none():
    plan = plan_of(length=16, form="intro-A-B-A'")
    assert measure(Score(plan, {}))["section_similarity"] == {
        "same_letter": None,
        "different_letter": None,
        "same_more_similar": None,
    }
    tokens = [[2, 1, 1, 1]] * 3
    result = measure(Score(plan_of(form="A-B-C"), {}, section_melodies=tokens))["section_similarity"]
    assert result == {"same_letter": None, "different_letter": 1.0, "same_more_similar": None}


def test_accents_on_the_hit_steps_are_exact_and_one_sixteenth_late_is_that_sixteenths_length():
    plan = plan_of(hits=[4, 6.5])
    steps = [hit.step for hit in plan.hits]
    assert steps == [32, 52]
    exact = measure(Score(plan, {}, accents=steps))
    assert [h["error_ms"] for h in exact["hits"]] == [0.0, 0.0]
    assert exact["hit_error_max_ms"] < 0.001 and exact["hits_all_within_10ms"] is True
    assert [h["accent_s"] for h in exact["hits"]] == [4.0, 6.5]

    late = measure(Score(plan, {}, accents=[32, 53]))
    tempo = TempoMap.of(plan)
    sixteenth_ms = (tempo.seconds(53) - tempo.seconds(52)) * 1000
    assert sixteenth_ms == pytest.approx(125.0)
    assert late["hits"][1] == {"requested_s": 6.5, "accent_s": 6.625, "error_ms": pytest.approx(sixteenth_ms)}
    assert late["hit_error_max_ms"] == pytest.approx(sixteenth_ms) and late["hits_all_within_10ms"] is False


def test_hits_without_accents_fail_and_no_hits_is_none():
    missing = measure(Score(plan_of(hits=[4]), {}))
    assert missing["hits"] == [{"requested_s": 4.0, "accent_s": None, "error_ms": None}]
    assert missing["hit_error_max_ms"] is None and missing["hits_all_within_10ms"] is False

    none = measure(Score(plan_of(), {}, accents=[0, 16]))
    assert none["hits"] == [] and none["hit_error_max_ms"] is None and none["hits_all_within_10ms"] is None


def test_stem_statistics_and_empty_stems():
    plan = plan_of()  # 6 bars
    result = measure(Score(plan, {"lead": line(C_MAJOR_SCALE), "bass": []}))
    assert result["stems"]["lead"] == {
        "notes": 7,
        "notes_per_bar": round(7 / 6, 4),
        "lowest": 60,
        "highest": 71,
        "range": 11,
    }
    empty = {"notes": 0, "notes_per_bar": 0.0, "lowest": None, "highest": None, "range": None}
    assert all(result["stems"][name] == empty for name in ("counter", "pad", "figure", "bass", "drums", "fx"))
    assert result["empty_stems"] == ["counter", "pad", "figure", "bass", "drums", "fx"]


def test_empty_score_is_json_ready():
    result = measure(Score(plan_of(), {}))
    assert json.loads(json.dumps(result)) == result
    assert result["in_key_rate"] is None and result["key_estimate"] is None
    assert result["key_match"] is None and result["tonic_match"] is None
    assert result["empty_stems"] == ["lead", "counter", "pad", "figure", "bass", "drums", "fx"]
