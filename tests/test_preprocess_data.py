"""Pure parts of preprocessing: corpus sources, splits, de-duplication, augmentation, the card's arithmetic."""

from collections import Counter

import pytest

from cues.pipelines.preprocess.card import _binned
from cues.pipelines.preprocess.dataset import SplitFractions, assign_split, deduplicate, transpose
from cues.pipelines.preprocess.sources import COLLECTIONS, SourceError, catalogue_works, collection_works, split_abc

ABC_FILE = """% a comment before the first tune
L:1/8
X:1
T:One
M:4/4
K:G
GABc dedB|
X:2
T:Two
M:3/4
K:D
A|d2 f2 a2|
"""


def test_abc_files_split_into_tunes_with_the_header_fields():
    tunes = split_abc(ABC_FILE)
    assert len(tunes) == 2
    assert tunes[0].startswith("L:1/8\nX:1\nT:One") and "T:Two" not in tunes[0]
    assert tunes[1].startswith("L:1/8\nX:2\nT:Two") and tunes[1].endswith("A|d2 f2 a2|\n")
    assert split_abc("no tunes here") == []


def test_bundled_collections_have_the_expected_works():
    counts = {name: sum(1 for _ in collection_works(c)) for name, c in COLLECTIONS.items()}
    assert counts == {"essen": 8514, "oneills": 2009, "ryans": 1059, "airds": 1180, "miscfolk": 185, "bach": 408}
    assert not COLLECTIONS["essen"].commercial_use and "non-commercial" in COLLECTIONS["essen"].licence
    first = next(collection_works(COLLECTIONS["essen"]))
    assert first.source_id == "music21:essenFolksong/altdeu10.abc#1" and first.payload.startswith(b"X:1")


def test_catalogue_folder_finds_scores_and_keeps_bad_files_as_works(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "tunes.abc").write_text(ABC_FILE)
    (tmp_path / "garbage.abc").write_bytes(b"\x00\x01 binary")
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("ignored")
    works = list(catalogue_works(str(tmp_path)))
    assert [(w.source_id.rsplit("/", 1)[-1], w.format) for w in works] == [
        ("empty.mid", "midi"),
        ("garbage.abc", "abc"),
        ("tunes.abc#1", "abc"),
        ("tunes.abc#2", "abc"),
    ]
    with pytest.raises(SourceError, match="is not a folder or an s3:// prefix"):
        list(catalogue_works(str(tmp_path / "nope")))


def test_splits_are_deterministic_and_near_their_fractions():
    ids = [f"music21:essenFolksong/file.abc#{i}" for i in range(20_000)]
    first = [assign_split(i) for i in ids]
    assert first == [assign_split(i) for i in ids]
    shares = Counter(first)
    assert abs(shares["train"] / 20_000 - 0.90) < 0.01
    assert abs(shares["validation"] / 20_000 - 0.05) < 0.005
    assert {assign_split(i, SplitFractions(0.5, 0.25, 0.25)) for i in ids[:200]} == {"train", "validation", "test"}


def test_dedup_keeps_the_first_source_id_of_each_content():
    rows = [
        {"source_id": "b#2", "content_hash": "x"},
        {"source_id": "a#1", "content_hash": "x"},
        {"source_id": "c#1", "content_hash": "y"},
    ]
    result = deduplicate(rows)
    assert [r["source_id"] for r in result.rows] == ["a#1", "c#1"]
    assert result.duplicates == {"b#2": "a#1"}


def row(tokens, tonic):
    return {"tokens": tokens, "tonic": tonic, "tonic_name": "?", "lowest": 60, "highest": 72, "register": [62.0, -1.0]}


def test_transposition_moves_the_key_and_wraps_tokens_by_octaves():
    # relative pitch 60 (token 2 + 24) in G (tonic 7): up 2 to A keeps the relative pitch, up 6 to C# wraps an octave
    base = row([26, 1, 0, 27], tonic=7)
    up2 = transpose(base, 2, low=36, high=95, first_note_token=2)
    assert (up2["tokens"], up2["tonic"], up2["tonic_name"], up2["lowest"], up2["register"]) == (
        [26, 1, 0, 27],
        9,
        "A",
        62,
        [64.0, -1.0],
    )
    up6 = transpose(base, 6, low=36, high=95, first_note_token=2)
    assert (up6["tokens"], up6["tonic"]) == ([38, 1, 0, 39], 1)
    down = transpose(row([26], tonic=2), -3, low=36, high=95, first_note_token=2)
    assert (down["tokens"], down["tonic"]) == ([14], 11)  # D4 down to B3: relative pitch 59 - 11 = 48
    assert transpose(row([2 + 59], tonic=11), 1, low=36, high=95, first_note_token=2) is None  # leaves the range


def test_bins_count_every_value_once():
    values = [0, 1, 4, 5, 8, 100]
    bins = _binned(values, (4, 8, 16))
    assert bins == {"≤4": 3, "5–8": 2, "9–16": 0, ">16": 1}
    assert sum(bins.values()) == len(values)
