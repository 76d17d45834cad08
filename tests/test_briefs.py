"""The brief contract: every example validates, and each class of bad input gets a precise message."""

from pathlib import Path

import pytest

from cues.pipelines.generate.brief_sources import EXAMPLES_DIR, read_sources
from cues.schemas.brief import Brief, Ending
from cues.schemas.brief_file import mark_duplicate_ids, read_brief_bytes

EXAMPLES = sorted(EXAMPLES_DIR.glob("*.yaml"))
GOOD = b"medium: film\nmood: tense\nlength: 30\n"


def only_error(data: bytes, source: str = "b.yaml") -> str:
    """The one error message of a one-brief file."""
    entries = read_brief_bytes(data, source)
    assert len(entries) == 1
    assert entries[0].error is not None, entries[0]
    return str(entries[0].error)


def test_there_are_examples_of_every_medium_and_a_batch():
    briefs = [e.brief for e in read_sources([str(EXAMPLES_DIR)])]
    assert {b.medium.value for b in briefs} == {"film", "tv", "trailer", "game", "ad", "web"}
    assert any(b.hits for b in briefs if b.medium.value == "film")
    assert any(b.ending == Ending.loop for b in briefs if b.medium.value == "game")
    assert any(b.cutdowns and b.length.seconds == 60 for b in briefs if b.medium.value == "ad")
    assert any(b"defaults:" in p.read_bytes() for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_validates(path: Path):
    entries = read_brief_bytes(path.read_bytes(), str(path))
    assert entries and all(e.ok for e in entries), [str(e.error) for e in entries if not e.ok]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_briefs_round_trip_through_their_canonical_json(path: Path):
    for entry in read_brief_bytes(path.read_bytes(), str(path)):
        dumped = entry.brief.model_dump(mode="json")
        assert Brief.model_validate(dumped) == entry.brief
        assert Brief.model_validate(dumped).content_hash() == entry.brief.content_hash()


def test_spec_example_parses_to_music_values():
    brief = read_brief_bytes((EXAMPLES_DIR / "film-night-chase.yaml").read_bytes(), "x")[0].brief
    assert brief.length.seconds == 65.0
    assert (brief.key.tonic, brief.key.mode.value) == ("D", "minor")
    assert [s.label for s in brief.form] == ["intro", "A", "A'", "B", "outro"]
    assert brief.hits == (12.0, 41.5)
    assert brief.mood == ("tense", "action")


def test_medium_defaults_are_resolved():
    ad = read_brief_bytes(b"medium: ad\nmood: happy\nlength: 30\n", "x")[0].brief.resolve()
    game = read_brief_bytes(b"medium: game\nmood: calm\nlength: 8 bars\n", "x")[0].brief.resolve()
    web = read_brief_bytes(b"medium: web\nmood: calm\nlength: 20\nseed: 3\n", "x")[0].brief.resolve()
    assert (ad.ending, ad.delivery.loudness) == (Ending.button, -23.0)
    assert (game.ending, game.delivery.loudness) == (Ending.loop, -18.0)
    assert (web.ending, web.delivery.loudness, web.seed) == (Ending.ring_out, -16.0, 3)
    assert ad.seed == read_brief_bytes(b"medium: ad\nmood: happy\nlength: 30.0\n", "x")[0].brief.resolve().seed


def test_ids_default_to_the_title_slug_or_a_content_hash():
    titled = read_brief_bytes(b"title: 'Night Chase, Reel 3!'\nmedium: film\nmood: dark\nlength: 30\n", "x")[0]
    untitled = read_brief_bytes(GOOD, "x")[0]
    assert titled.brief.id == "night-chase-reel-3"
    assert untitled.brief.id.startswith("cue-") and len(untitled.brief.id) == 12
    assert untitled.brief.id == read_brief_bytes(GOOD, "y")[0].brief.id  # stable


def test_batch_defaults_merge_under_each_brief_and_the_brief_wins():
    data = b"""
defaults: {medium: ad, mood: happy, delivery: {loudness: -16, sample_rate: 44100}}
briefs:
  - {id: a, length: 30}
  - {id: b, length: 15, mood: calm, delivery: {sample_rate: 48000}}
"""
    a, b = (e.brief for e in read_brief_bytes(data, "x"))
    assert (a.medium.value, a.mood, a.delivery.loudness, a.delivery.sample_rate) == (
        "ad",
        ("happy",),
        -16.0,
        44100,
    )
    assert (b.mood, b.delivery.loudness, b.delivery.sample_rate) == (("calm",), -16.0, 48000)


def test_several_documents_are_several_briefs():
    entries = read_brief_bytes(GOOD + b"---\nid: two\n" + GOOD[0:] + b"---\n", "x")
    assert [e.ok for e in entries] == [True, True]


# --- each class of bad input gets a precise message -----------------------------------------------------------


def test_malformed_yaml():
    assert only_error(b"medium: film\nmood: [tense\n") == (
        "b.yaml: malformed YAML at line 3, column 1: expected ',' or ']', but got '<stream end>'"
    )


def test_yaml_alias_bomb_is_refused_quickly():
    bomb = b'a: &a ["x","x","x","x","x","x","x","x","x"]\n'
    for level in "bcdefghi":
        prev = chr(ord(level) - 1)
        bomb += f"{level}: &{level} [".encode() + b",".join([f"*{prev}".encode()] * 9) + b"]\n"
    assert only_error(bomb) == ("b.yaml: aliases expand to more than 100,000 values (an alias bomb?) near line 6")


def test_recursive_alias_is_refused():
    assert "recursive alias" in only_error(b"a: &a [*a]\n") or "malformed YAML" in only_error(b"a: &a [*a]\n")


def test_file_over_one_mib(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(GOOD + b"# " + b"x" * (1024 * 1024) + b"\n")
    [entry] = read_sources([str(big)])
    assert (
        str(entry.error) == f"{big}: file is {big.stat().st_size:,} bytes; at most 1,048,576 bytes (1 MiB) are accepted"
    )
    assert only_error(b"#" * (1024 * 1024 + 1)) == (
        "b.yaml: file is 1,048,577 bytes; at most 1,048,576 bytes (1 MiB) are accepted"
    )


def test_not_utf8():
    assert only_error(b"medium: film\ntitle: caf\xe9\n") == "b.yaml: not UTF-8 text (byte 23: b'\\xe9')"


def test_duplicate_keys():
    assert only_error(GOOD + b"length: 40\n") == "b.yaml: key 'length' appears twice in one mapping (lines 3 and 4)"


def test_unknown_field_suggests_the_likely_one():
    assert only_error(b"medium: film\nmood: tense\nlength: 30\ntempp: 90\n").endswith(
        "tempp: unknown field 'tempp'; did you mean 'tempo'?; allowed fields: version, id, title, artist, medium, "
        "mood, length, key, tempo, meter, form, ending, hits, instruments, intensity, variations, cutdowns, seed, "
        "delivery, revise"
    )
    assert "delivery.loudnes: unknown field 'loudnes'; did you mean 'loudness'?; allowed fields: sample_rate, " in (
        only_error(GOOD + b"delivery: {loudnes: -20}\n")
    )


def test_wrong_type():
    assert only_error(GOOD + b"tempo: fast\n") == (
        "b.yaml: brief #1: tempo: must be a number; allowed: Beats per minute, 40 to 220 (6/8 counts dotted "
        "quarters) (got 'fast')"
    )
    assert only_error(GOOD + b"delivery: {stems: maybe}\n").endswith(
        "delivery.stems: unknown stem preset 'maybe'; allowed: true, false, a preset (roles, compact, bed), or a "
        "mapping of stem names to role groups (melody, strings, brass_winds, keys_pads, bass, drums_perc, fx) "
        "(got 'maybe')"
    )
    assert only_error(GOOD + b"variations: 2.5\n").endswith(
        "variations: must be a whole number; allowed: Alternate cues with different seeds, 1 to 10 (got 2.5)"
    )


def test_out_of_range_length_and_tempo():
    assert only_error(b"medium: film\nmood: tense\nlength: 601\n") == (
        'b.yaml: brief #1: length: length out of range; allowed: seconds as a number (30, 12.5) or text "30s", '
        '"30 s", "1:30", "0:07.5", or bars as "16 bars"; 3 to 600 seconds (got 601)'
    )
    assert only_error(GOOD + b"tempo: 300\n") == (
        "b.yaml: brief #1: tempo: out of range; allowed: Beats per minute, 40 to 220 (6/8 counts dotted quarters) "
        "(got 300)"
    )
    assert only_error(b"medium: film\nmood: tense\nlength: 400 bars\ntempo: 60\n") == (
        "b.yaml: brief #1: length: 400 bars of 4/4 lasts 26:40–26:40 at 60 bpm; allowed: 3 to 600 seconds "
        "(got '400 bars')"
    )
    assert "delivery.loudness: out of range; allowed: Integrated loudness target in LUFS, -40 to -8 (got -50)" in (
        only_error(GOOD + b"delivery: {loudness: -50}\n")
    )


def test_unknown_mood_suggests_close_words():
    assert only_error(b"medium: film\nmood: [tense, melancolic]\nlength: 30\n") == (
        "b.yaml: brief #1: mood: unknown mood 'melancolic'; did you mean 'melancholic' or 'melancholy'?; allowed: "
        "calm, happy, playful, uplifting, triumphant, epic, tense, suspense, dark, sad, melancholic, mysterious, "
        "romantic, action, dreamy, or a synonym (`cues moods` lists them) (got ['tense', 'melancolic'])"
    )


def test_bad_key():
    assert only_error(GOOD + b"key: H major\n") == (
        'b.yaml: brief #1: key: not a key; allowed: "<tonic> <mode>" with tonic A–G plus optional # or b and mode '
        "one of major, minor, dorian, phrygian, lydian, mixolydian (ionian = major, aeolian = minor), or short forms "
        '"Eb" (major) and "c#m" (minor) (got \'H major\')'
    )


def test_hits_outside_the_length():
    assert only_error(GOOD + b'hits: [12, "0:30", 45]\nid: chase\n') == (
        "b.yaml: brief 'chase': hits[1]: hit at 0:30 is outside the cue (0, 0:30) (got 30.0); "
        "hits[2]: hit at 0:45 is outside the cue (0, 0:30) (got 45.0)"
    )
    assert only_error(b"medium: film\nmood: tense\nlength: 8 bars\nhits: [50]\n").endswith(
        "hits[0]: hit at 0:50 is outside the cue (0, 0:48 (the longest the length can last)) (got 50.0)"
    )


def test_cutdowns_not_shorter_than_the_length():
    assert only_error(b"medium: ad\nmood: happy\nlength: 30\ncutdowns: [15, 30, 45]\n") == (
        "b.yaml: brief #1: cutdowns[1]: a cutdown must be shorter than the length (0:30) (got 30); "
        "cutdowns[2]: a cutdown must be shorter than the length (0:30) (got 45)"
    )


def test_duplicate_ids_in_a_batch():
    entries = mark_duplicate_ids(
        read_brief_bytes(
            b"defaults: {medium: ad, mood: happy, length: 30}\nbriefs: [{id: spot}, {id: spot}]\n", "b.yaml"
        )
    )
    assert entries[0].ok
    assert str(entries[1].error) == (
        "b.yaml: brief 'spot': id: duplicate id: already used by brief #1; give each brief its own id (got 'spot')"
    )


def test_unknown_batch_field_and_bad_shapes():
    assert only_error(b"defaults: {}\nbriefs: [{medium: ad}]\nbrefs: []\n") == (
        "b.yaml: brefs: unknown field 'brefs' in a batch file; did you mean 'briefs'?; a batch holds version, "
        "defaults, briefs (brief fields go under defaults: or into each brief)"
    )
    assert only_error(b"- 1\n") == "b.yaml: brief #1: a brief is a mapping of fields, not a list"
    assert only_error(b"") == "b.yaml: no briefs in this file"
    assert only_error(b"!!python/object:os.system {}\n").startswith("b.yaml: malformed YAML at line 1, column 1: ")


def test_form_bars_must_fit_the_length():
    assert only_error(
        b"medium: ad\nmood: happy\nlength: 16 bars\nform: [{section: A, bars: 8}, {section: B, bars: 4}]\n"
    ).endswith("form: sections add up to 12 bars but length is 16 bars")
    assert only_error(b"medium: ad\nmood: happy\nlength: 10\nform: [{section: A, bars: 64}]\n").endswith(
        "form: 64 bars in 0:10 needs 1536.0 bpm; allowed tempo 40 to 220 bpm: change the bars or the length"
    )
    assert only_error(b"medium: ad\nmood: happy\nlength: 3\nform: AABA\n").endswith(
        "form: the form A-A-B-A needs at least 4 bars, but 0:03 holds at most 2 bars of 4/4 (at 220 bpm); give a "
        "longer length, fewer sections, or leave the form out"
    )
    assert only_error(b"medium: ad\nmood: happy\nlength: 2 bars\nform: intro-A-outro\n").endswith(
        "form: the form intro-A-outro needs at least 3 bars, but the length is 2 bars; give a longer length, "
        "fewer sections, or leave the form out"
    )


def test_every_problem_of_a_brief_is_reported_at_once():
    error = read_brief_bytes(b"medium: flim\nmood: tence\nlength: 1\nkey: H\n", "b.yaml")[0].error
    assert [p.path for p in error.problems] == ["medium", "mood", "length", "key"]
