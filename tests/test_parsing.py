"""Pure parsers of the brief contract: lengths, times, keys, forms."""

import pytest

from cues.schemas.form import FormParseError, FormSection, format_form, parse_form
from cues.schemas.key import KeyParseError, Mode, parse_key
from cues.schemas.timing import Length, Meter, TimingParseError, format_clock, parse_length, parse_time


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (30, Length(seconds=30.0)),
        (12.5, Length(seconds=12.5)),
        ("30s", Length(seconds=30.0)),
        ("30 s", Length(seconds=30.0)),
        ("45 seconds", Length(seconds=45.0)),
        ("1:30", Length(seconds=90.0)),
        ("0:07.5", Length(seconds=7.5)),
        ("16 bars", Length(bars=16)),
        ("1 bar", Length(bars=1)),
        ("10:00", Length(seconds=600.0)),
    ],
)
def test_lengths_parse(text, expected):
    assert parse_length(text) == expected


@pytest.mark.parametrize("text", [2.9, 601, "10:00.5", "0 bars", "ten", "1:75", True, None, [30], "", "-5", "nan"])
def test_bad_lengths_say_what_is_allowed(text):
    with pytest.raises(TimingParseError, match=r"allowed: seconds as a number"):
        parse_length(text)


@pytest.mark.parametrize(("text", "seconds"), [(12.0, 12.0), ("0:41.5", 41.5), ("41.5s", 41.5), ("1:02:03.5", 3723.5)])
def test_times_parse(text, seconds):
    assert parse_time(text) == seconds


def test_bar_lengths_follow_tempo_and_meter():
    assert Length(bars=16).duration(Meter.four_four, 120.0) == 32.0
    assert Length(bars=8).duration(Meter.six_eight, 60.0) == 16.0  # two dotted-quarter beats a bar
    assert Length(bars=8).duration(Meter.three_four, None) is None
    assert Length(bars=10).duration_range(Meter.four_four) == (10 * 4 * 60 / 220, 10 * 4 * 60 / 40)


@pytest.mark.parametrize(("seconds", "text"), [(65, "1:05"), (7.5, "0:07.5"), (600, "10:00"), (41.125, "0:41.125")])
def test_clock_format(seconds, text):
    assert format_clock(seconds) == text


@pytest.mark.parametrize(
    ("text", "tonic", "mode", "pitch_class"),
    [
        ("C major", "C", Mode.major, 0),
        ("F# minor", "F#", Mode.minor, 6),
        ("Bb dorian", "Bb", Mode.dorian, 10),
        ("Eb", "Eb", Mode.major, 3),
        ("c#m", "C#", Mode.minor, 1),
        ("C#m", "C#", Mode.minor, 1),
        ("bbm", "Bb", Mode.minor, 10),
        ("b", "B", Mode.major, 11),
        ("A aeolian", "A", Mode.minor, 9),
        ("G Ionian", "G", Mode.major, 7),
        ("E phrygian", "E", Mode.phrygian, 4),
        ("F lydian", "F", Mode.lydian, 5),
        ("G mixolydian", "G", Mode.mixolydian, 7),
        ("Cb major", "Cb", Mode.major, 11),
    ],
)
def test_keys_parse(text, tonic, mode, pitch_class):
    key = parse_key(text)
    assert (key.tonic, key.mode, key.pitch_class) == (tonic, mode, pitch_class)


def test_key_scale():
    assert parse_key("D dorian").scale_pitch_classes == (2, 4, 5, 7, 9, 11, 0)
    assert str(parse_key("c#m")) == "C# minor"


@pytest.mark.parametrize("text", ["H major", "C locrian", "major", "", "C# minr", 5])
def test_bad_keys_say_what_is_allowed(text):
    with pytest.raises(KeyParseError, match=r"allowed: \"<tonic> <mode>\""):
        parse_key(text)


def test_forms_parse():
    assert parse_form("AABA") == tuple(FormSection(n) for n in "AABA")
    assert [s.label for s in parse_form("intro-A-A'-B-outro")] == ["intro", "A", "A'", "B", "outro"]
    assert parse_form("A-A’-A''")[1:] == (
        FormSection("A", 1),
        FormSection("A", 2),
    )  # typographic prime accepted
    assert parse_form("AA'BA")[1] == FormSection("A", 1)
    assert parse_form([{"section": "intro", "bars": 4}, {"section": "A", "bars": 8}, "B"]) == (
        FormSection("intro", 0, 4),
        FormSection("A", 0, 8),
        FormSection("B"),
    )
    assert format_form(parse_form("Intro-a-B")) == "intro-A-B"
    assert format_form(parse_form([{"section": "A", "bars": 8}])) == [{"section": "A", "bars": 8}]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("A--B", r"'' is not a section"),
        ("A-chorus", r"unknown section 'chorus'"),
        ("", r"'' is not a section"),
        ([], r"at least one section"),
        ([{"section": "A", "bars": 0}], r"form\[0\].bars must be a whole number from 1 to 256"),
        ([{"section": "A", "bar": 4}], r"form\[0\]: unknown field\(s\) bar; allowed: section, bars"),
        (7, r"a form is text or a list"),
    ],
)
def test_bad_forms(value, message):
    with pytest.raises(FormParseError, match=message):
        parse_form(value)
