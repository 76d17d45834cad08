"""Delivery into the store under faults: two deliveries of one cue at once, byte-identical re-renders, an S3 outage
during uploads, a missing bucket, a store that fails at the very end of a batch, invalid-only submissions, and a Ray
job server that answers errors."""

from __future__ import annotations

import threading
import time

import pytest

from cues.pipelines.compose.composer import ComposerModels
from cues.pipelines.generate.cue_writer import deliver_cue, make_cue, render_key
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.schemas.brief_file import read_brief_bytes
from cues.schemas.manifest import read_manifest

EVERY_FORMAT = "id: race\nmedium: ad\nmood: happy\nlength: 4\ndelivery: {formats: [wav, flac, mp3, midi], stems: true}"


def spec_of(text: str):
    [entry] = read_brief_bytes(text.encode(), "x.yaml")
    return expand_cues(entry.brief)[0]


@pytest.fixture(scope="module")
def models():
    return ComposerModels.load()


# --- 9: the same render key, the same bytes; two deliveries at once ----------------------------------------------


def test_rendering_the_same_render_key_twice_gives_byte_identical_files(models):
    spec = spec_of(EVERY_FORMAT)
    with CueRenderer() as renderer:
        key = render_key(spec, models.versions, renderer.identity)
        first = make_cue(spec, key, models, renderer)
        time.sleep(1.1)  # a wall clock in any file would now read differently
        second = make_cue(spec, key, models, renderer)
    assert sorted(first.files) == sorted(second.files)
    assert {"mix.wav", "mix.flac", "preview.mp3", "cue.mid", "pianoroll.png", "stems/bass.wav"} <= set(first.files)
    for name, (data, _, _) in first.files.items():
        assert data == second.files[name][0], name


class Together:
    """Held while a cue is made (``deliver_cue``'s ``making``); on leaving, waits until every delivery has made its
    cue, so all of them then store at the same moment."""

    def __init__(self, parties: int):
        self.barrier = threading.Barrier(parties, timeout=120)

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.barrier.wait()


def test_two_deliveries_of_one_cue_at_once_leave_one_manifest_whose_files_match(store, models):
    spec = spec_of(EVERY_FORMAT)
    together = Together(2)
    results, errors = [], []

    def deliver() -> None:
        try:
            with CueRenderer() as renderer:  # each its own synth, as two workers or two submits would have
                results.append(deliver_cue(store, spec, models, renderer, together))
        except Exception as err:  # reported below, with the other delivery's outcome
            errors.append(err)

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len({r.key for r in results}) == 1 and all(r.ok for r in results)
    assert sorted(r.skipped for r in results) == [False, True]  # one delivered it, the other found it delivered
    manifests = [k for k in store.list("cues/") if k.endswith("manifest.json")]
    assert manifests == [f"{results[0].prefix}/manifest.json"]
    manifest = read_manifest(store.get_bytes(manifests[0]))
    for name, entry in manifest.files.items():
        data = store.get_bytes(f"{results[0].prefix}/{name}")
        assert (len(data), store.stat(f"{results[0].prefix}/{name}").sha256) == (entry.bytes, entry.sha256), name
