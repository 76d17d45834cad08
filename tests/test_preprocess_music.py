"""Pure music logic of preprocessing on real scores: melodies, tokens, keys, chords."""

import io
import re
from pathlib import Path

import numpy as np
import pretty_midi
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from music21 import corpus

from cues.pipelines.music import harmony, melody_tokens
from cues.pipelines.preprocess.work import WorkDropped, process_work
from cues.schemas.key import Mode

TUNE = b"X:1\nT:Scale\nM:4/4\nL:1/8\nK:G\nGABc dedB|c2e2 d4|BAGF G2D2|G8|]\n"


CORPUS = Path(corpus.__file__).parent


def corpus_tunes(relative: str) -> list[bytes]:
    """The tunes of one corpus ABC file, split at their ``X:`` lines."""
    text = (CORPUS / relative).read_bytes()
    starts = [m.start() for m in re.finditer(rb"^X:", text, re.MULTILINE)]
    return [text[a:b] for a, b in zip(starts, [*starts[1:], len(text)], strict=True)]


def chorale(name: str) -> bytes:
    return (CORPUS / "bach" / f"{name}.mxl").read_bytes()


def dropped(fmt: str, payload: bytes) -> WorkDropped:
    with pytest.raises(WorkDropped) as info:
        process_work(fmt, payload)
    return info.value


@st.composite
def grid_melodies(draw):
    notes, step = [], draw(st.integers(0, 3))
    for _ in range(draw(st.integers(1, 30))):
        length = draw(st.integers(1, 12))
        notes.append((step, step + length, draw(st.integers(36, 95)) + 5))
        step += length + draw(st.integers(0, 3))
    return notes, step + draw(st.integers(0, 4))


@settings(max_examples=200, deadline=None)
@given(grid_melodies())
def test_token_round_trip_is_exact(melody):
    notes, total = melody
    tokens = melody_tokens.encode(notes, 5, total)
    assert len(tokens) == total and all(0 <= t < melody_tokens.NUM_TOKENS for t in tokens)
    assert melody_tokens.decode(tokens, 5) == notes
    assert melody_tokens.encode(melody_tokens.decode(tokens, 5), 5, total) == tokens


def test_small_abc_tune_row():
    row = process_work("abc", TUNE)
    g4 = 2 + 67 - 7 - 36  # G4 in G: relative pitch 60
    assert row["tokens"][:8] == [g4, 1, g4 + 2, 1, g4 + 4, 1, g4 + 5, 1]
    assert (row["meter"], row["steps_per_bar"], row["n_bars"], row["pickup_steps"]) == ("4/4", 16, 4, 0)
    assert (row["tonic"], row["tonic_name"], row["mode"], row["key_source"]) == (7, "G", "major", "notated")
    assert row["bar_starts"] == [0, 16, 32, 48]
    assert row["density"] == [8, 3, 6, 1]
    assert row["register"][3] == 67.0
    assert row["bar_chords"][0] == "I" and row["bar_chords"][-1] == "I"
    assert row["chord_tokens"] is None
    assert melody_tokens.decode(row["tokens"], 7)[0] == (0, 2, 67)


def test_pickup_bar():
    row = process_work("abc", b"X:1\nT:Pickup\nM:3/4\nL:1/8\nK:D\nA2|d2 f2 a2|g2 e2 c2|d6|]\n")
    assert row["pickup_steps"] == 4 and row["bar_starts"] == [0, 4, 16, 28]
    assert row["tokens"][4] == 2 + 74 - 2 - 36  # the first full bar starts on d (D5)


def test_transposed_copies_share_the_content_hash():
    in_a = process_work("abc", TUNE.replace(b"K:G", b"K:A").replace(b"GABc dedB", b"ABcd efec"))
    assert process_work("abc", TUNE)["tokens"][:8] == in_a["tokens"][:8]


def test_triplets_are_off_the_16th_grid_but_on_the_12_grid():
    drop = dropped("abc", b"X:1\nT:T\nM:2/4\nL:1/8\nK:C\n(3cde f2|(3gfe d2|c4|]\n")
    assert drop.reason == "off_grid" and drop.extra == {"on_grid_12": True}
    assert drop.detail == "triplets or finer: 6 notes off the 4-steps-per-quarter grid"
    assert process_work("abc", b"X:1\nT:T\nM:2/4\nL:1/8\nK:C\n(3cde f2|(3gfe d2|c4|]\n", steps_per_quarter=12)[
        "on_grid_12"
    ]


def test_modal_keys_from_abc():
    row = process_work("abc", b"X:1\nT:D\nM:6/8\nL:1/8\nK:Ador\nA2B c2d|e2d c2B|A2G E2G|A3 A3|]\n")
    assert (row["tonic_name"], row["mode"], row["key_source"], row["meter"]) == ("A", "dorian", "notated", "6/8")
    assert row["steps_per_bar"] == 12


def musicxml_bytes(score) -> bytes:
    from music21.musicxml.m21ToXml import GeneralObjectExporter

    return GeneralObjectExporter(score).parse()


def test_meter_changes_drop_but_incomplete_bars_do_not():
    from music21 import meter, note, stream

    part = stream.Part()
    for i, signature in enumerate(["3/4", None, "2/4", None, None]):
        measure = stream.Measure(number=i + 1)
        if signature:
            measure.timeSignature = meter.TimeSignature(signature)
        length = 3 if i < 2 else 2
        measure.append([note.Note(60 + i + k, quarterLength=1) for k in range(length)])
        part.append(measure)
    change = dropped("musicxml", musicxml_bytes(stream.Score([part])))
    assert (change.reason, change.detail) == ("meter_change", "time signatures 3/4, 2/4")
    # music21 reads bar 17 of O'Neill's no. 1 as a one-bar 1/16 signature: an incomplete bar, the tune stays in 2/4.
    row = process_work("abc", corpus_tunes("oneills1850/0001-0050.abc")[0], steps_per_quarter=8)  # 32nd notes
    assert (row["meter"], row["steps_per_bar"], row["tonic_name"], row["mode"]) == ("2/4", 16, "G", "minor")
    assert row["bar_starts"][17:20] == [256, 258, 274]


def test_latin1_abc_text():
    row = process_work(
        "abc", "X:1\nT:Schöne Müllerin\nM:4/4\nL:1/8\nK:G\nGABc dedB|c2e2 d4|BAGF G2D2|G8|]\n".encode("latin-1")
    )
    assert row["n_notes"] == 18


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"X:1\nT:Free\nM:none\nL:1/4\nK:C\nCDEF GABc|\n", "no_meter"),
        (b"", "empty"),
        (b"X:1\nT:Two notes\nM:4/4\nK:C\nC4|D4|\n", "too_short"),
    ],
)
def test_abc_drop_reasons(payload, reason):
    assert dropped("abc", payload).reason == reason


@pytest.mark.parametrize("fmt", ["abc", "musicxml", "midi"])
def test_garbage_is_dropped_never_raised(fmt):
    truncated = (chorale("bwv66.6")[:1000], TUNE[:25], b"X:1\nT:t\nM:4/")
    for payload in (bytes(range(256)) * 3, b"MThd\x00\x00\x00\x06", b"PK\x03\x04 truncated zip", b"<score-partwise>"):
        assert dropped(fmt, payload).reason in {"parse_error", "empty", "too_short", "no_meter"}
    for payload in truncated:
        assert dropped(fmt, payload).reason in {"parse_error", "empty", "too_short", "no_meter"}


def test_real_folk_tunes():
    essen = corpus_tunes("essenFolksong/altdeu10.abc")
    row = process_work("abc", essen[0])  # "M: 4/2", "L: 1/4", "K: G", a half-note pickup
    assert (row["meter"], row["tonic_name"], row["mode"], row["key_source"]) == ("4/2", "G", "major", "notated")
    assert row["n_notes"] > 20 and row["pickup_steps"] == 8 and row["bar_starts"][:3] == [0, 8, 40]
    row = process_work("abc", essen[5])  # "K: A", written with the minor's accidentals in the notes
    assert (row["tonic_name"], row["mode"], row["key_source"]) == ("A", "minor", "estimated")
    rows, reasons = [], []
    for tune in corpus_tunes("oneills1850/0001-0050.abc")[:12]:
        try:
            rows.append(process_work("abc", tune))
        except WorkDropped as drop:
            reasons.append(drop.reason)
    assert len(rows) >= 6 and set(reasons) <= {"off_grid"}  # O'Neill's drops are triplets
    assert all(r["n_bars"] >= 8 and r["key_correlation"] > 0.5 for r in rows)


def test_bach_chorale_chords_and_cadences():
    row = process_work("musicxml", chorale("bwv66.6"))
    assert (row["tonic_name"], row["mode"], row["key_source"]) == ("F#", "minor", "estimated")  # as music21 says
    assert row["beats_per_bar"] == 4 and len(row["chord_tokens"]) == len(row["chord_labels"]) == 36
    assert row["cadences"] == [3, 7, 11, 19, 27, 35]  # the soprano's fermatas, on the last beat
    assert row["chord_labels"][-1] == "I"  # a Picardy third: the F# minor chorale ends on F# major
    assert all(0 <= t < harmony.CHORD_CLASSES for t in row["chord_tokens"])


def test_chorale_key_and_soprano_choice():
    # The file's <mode> says B minor, but it ends on D major with D in the bass: the final decides.
    row = process_work("musicxml", chorale("bwv120.6"))
    assert (row["tonic_name"], row["mode"], row["chord_labels"][-1]) == ("D", "major", "I")
    # Horn 2 is the first part of bwv1.6; the melody is the soprano, which keeps inside the soprano's range.
    row = process_work("musicxml", chorale("bwv1.6"))
    assert (row["tonic_name"], row["mode"], row["chord_labels"][-1]) == ("F", "major", "I")
    assert row["lowest"] >= 60 and row["highest"] <= 81


def test_midi_skyline_melody():
    pm = pretty_midi.PrettyMIDI(initial_tempo=100)
    lead, pad, drums = pretty_midi.Instrument(73), pretty_midi.Instrument(48), pretty_midi.Instrument(0, is_drum=True)
    beat = 0.6
    for i, pitch in enumerate([72, 74, 76, 77, 79, 77, 76, 74, 72, 71, 72, 74]):
        lead.notes.append(pretty_midi.Note(90, pitch, i * beat, (i + 1) * beat))
        pad.notes.append(pretty_midi.Note(60, 60, i * beat, (i + 1) * beat))
        drums.notes.append(pretty_midi.Note(100, 36, i * beat, i * beat + 0.1))
    pm.instruments += [pad, lead, drums]
    buffer = io.BytesIO()
    pm.write(buffer)
    row = process_work("midi", buffer.getvalue())
    assert row["meter"] == "4/4" and row["n_notes"] == 12 and row["lowest"] == 71 and row["n_bars"] == 3
    assert [p for *_, p in melody_tokens.decode(row["tokens"], row["tonic"])] == [
        72,
        74,
        76,
        77,
        79,
        77,
        76,
        74,
        72,
        71,
        72,
        74,
    ]
    assert row["tokens"][:4] == [2 + 72 - 36, 1, 1, 1]  # a quarter note on the 16th grid
    assert (row["tonic_name"], row["mode"], row["key_source"]) == ("C", "major", "estimated")


def test_key_finder():
    c_major = harmony.pitch_class_histogram([60, 62, 64, 65, 67, 69, 71, 72], [1] * 8)
    assert harmony.estimate_key(c_major)[:2] == (0, Mode.major)
    a_minor = harmony.pitch_class_histogram([57, 59, 60, 62, 64, 65, 68, 69, 69, 64], [1] * 10)
    assert harmony.estimate_key(a_minor)[:2] == (9, Mode.minor)


def test_chord_matching_and_numerals():
    assert harmony.match_chord({7, 11, 2, 5}, bass=7) == (7, 4)  # G7
    assert harmony.match_chord({9, 0, 4}, bass=9) == (9, 1)  # A minor
    assert harmony.roman(7, 4, Mode.major) == "V7" and harmony.roman(10, 0, Mode.major) == "bVII"
    assert harmony.roman(11, 2, Mode.major) == "vii°" and harmony.roman(6, 2, Mode.major) == "#iv°"
    assert [t[2] for t in harmony.diatonic_triads(9, Mode.minor)] == ["i", "ii°", "III", "iv", "v", "VI", "VII"]
    weights = np.zeros(12)
    weights[[7, 11, 2]] = [2, 1, 1]
    assert harmony.bar_chord(weights, harmony.diatonic_triads(0, Mode.major)) == "V"
