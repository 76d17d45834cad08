"""A small corpus slice end to end through Ray Data into a local store and into the S3 test server."""

import io
import json

import pretty_midi
import pyarrow.parquet as pq
import pytest

from cues.pipelines.preprocess.pipeline import COMPLETE, run
from cues.pipelines.store import open_store
from cues.schemas.config import PreprocessConfig

pytestmark = pytest.mark.ray


def midi_bytes() -> bytes:
    pm = pretty_midi.PrettyMIDI(initial_tempo=120)
    piano = pretty_midi.Instrument(program=0)
    for i, pitch in enumerate([60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72, 67, 64, 62, 60]):
        piano.notes.append(pretty_midi.Note(velocity=90, pitch=pitch, start=i * 0.5, end=(i + 1) * 0.5))
    pm.instruments.append(piano)
    buffer = io.BytesIO()
    pm.write(buffer)
    return buffer.getvalue()


@pytest.fixture
def catalogue(tmp_path):
    folder = tmp_path / "catalogue"
    folder.mkdir()
    good = midi_bytes()
    (folder / "good.mid").write_bytes(good)
    (folder / "truncated.mid").write_bytes(good[: len(good) // 2])
    (folder / "garbage.abc").write_bytes(bytes(range(256)) * 4)
    (folder / "empty.mxl").write_bytes(b"")
    return folder


def check_dataset(store, result, expected_in):
    card = result.card
    counts = card["counts"]
    assert counts["works_in"] == expected_in
    assert counts["kept"] + counts["dropped"] == counts["works_in"]
    assert sum(counts["dropped_by_reason"].values()) == counts["dropped"]
    assert sum(s["works"] for name, s in card["splits"].items() if name.startswith("melody/")) == counts["kept"]
    assert store.exists(f"{result.prefix}/{COMPLETE}")
    splits = {}
    for item in card["files"]:
        table = pq.read_table(io.BytesIO(store.get_bytes(item["key"])))
        assert table.num_rows == item["rows"]
        if "/melody/" in item["key"]:
            for source_id, split in zip(table["source_id"].to_pylist(), table["split"].to_pylist(), strict=True):
                assert splits.setdefault(source_id, split) == split  # no work in two splits
    return card


def test_slice_with_corrupt_files_into_a_local_store(ray_session, tmp_path, catalogue):
    config = PreprocessConfig(
        sources=("essen", "bach", str(catalogue)), limit=12, store=str(tmp_path / "store"), chunk_size=5
    )
    progress = []
    result = run(config, on_progress=lambda done, total: progress.append((done, total)))
    assert not result.cached and progress[-1] == (28, 28)
    store = open_store(config.store)
    card = check_dataset(store, result, expected_in=12 + 12 + 4)
    dropped = pq.read_table(io.BytesIO(store.get_bytes(f"{result.prefix}/dropped.parquet"))).to_pylist()
    reasons = {d["source_id"].rsplit("/", 1)[-1]: d["reason"] for d in dropped if d["collection"].startswith("folder:")}
    assert set(reasons) == {"truncated.mid", "garbage.abc", "empty.mxl"}
    assert all(r in {"parse_error", "empty"} for r in reasons.values())
    assert card["histograms"]["chorale_cadences"] > 0
    assert (store.get_bytes(f"{result.prefix}/card.md")).startswith(b"# Dataset `folk-chorales`")

    again = run(config)
    assert again.cached and again.version == result.version and again.seconds < 10


def test_interrupted_run_resumes_from_its_chunks(ray_session, tmp_path):
    config = PreprocessConfig(sources=("ryans",), limit=12, store=str(tmp_path / "store"), chunk_size=4)
    first = run(config)
    store = open_store(config.store)
    parts = sorted(store.list(f"{first.prefix}/parts/"))
    assert len(parts) == 3
    # As if the run died after two chunks: no marker, one part missing.
    store.delete(f"{first.prefix}/{COMPLETE}")
    store.delete(parts[-1])
    progress = []
    second = run(config, on_progress=lambda done, total: progress.append(done))
    assert progress[0] == 8  # the two cached chunks count as done before any work starts
    assert not second.cached and second.card["counts"] == first.card["counts"]


def test_slice_and_an_s3_catalogue_into_s3(ray_session, s3_bucket):
    catalogue = open_store(f"s3://{s3_bucket}/catalogue")
    catalogue.put_bytes("midi/good.mid", midi_bytes())
    catalogue.put_bytes("abc/broken.abc", b"X:1\nT:broken\nM:4/4\nK:C\nC4|\n")
    config = PreprocessConfig(
        sources=("oneills", "bach", f"s3://{s3_bucket}/catalogue/"), limit=6, store=f"s3://{s3_bucket}/ml", chunk_size=4
    )
    result = run(config)
    store = open_store(config.store)
    card = check_dataset(store, result, expected_in=14)
    catalogue_row = next(s for s in card["sources"] if s["name"] == f"s3://{s3_bucket}/catalogue")
    assert (catalogue_row["works_in"], catalogue_row["kept"]) == (2, 1)
    assert json.loads(store.get_bytes(f"{result.prefix}/card.json"))["version"] == result.version
