"""The pool sizes itself by memory as well as by CPU (issue 17): what a worker needs for a batch's longest cue."""

import logging

from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.generate.worker_memory import MB, WorkerMemory, fit_memory, longest_seconds
from cues.schemas.brief import Brief

GB = 1024**3


def cues_of(**fields):
    return expand_cues(Brief.model_validate({"medium": "film", "mood": "calm", "length": 30, **fields}))


def test_the_longest_cue_decides_a_workers_memory():
    memory = WorkerMemory(loaded_mb=300, per_audio_s_mb=8, tail_s=10)
    short, long = cues_of(length=30, cutdowns=[10]), cues_of(id="long", length=600)
    assert [longest_seconds(c) for c in short] == [30.0, 10.0]
    assert memory.bytes_for(short) == (300 + 8 * 40) * MB
    assert memory.bytes_for(short + long) == (300 + 8 * 610) * MB
    bars = cues_of(length="16 bars", meter="3/4")  # at 40 bpm, the slowest a plan may go: 16 × 3 × 1.5 s
    assert longest_seconds(bars[0]) == 72.0


def test_memory_caps_the_pool_and_a_request_always_fits_a_node(caplog):
    with caplog.at_level(logging.WARNING):
        assert fit_memory(2, 1 * GB, 16 * GB) == (2, 1 * GB)  # fits: nothing said
        assert not caplog.records
        assert fit_memory(8, 5 * GB, 16 * GB) == (3, 5 * GB)
        assert "capped at 3 cue worker(s) by memory" in caplog.text
        workers, ask = fit_memory(2, 20 * GB, 16 * GB)
        assert workers == 1 and ask == int(16 * GB * 0.9) and "may run out of memory" in caplog.text
    assert fit_memory(4, 5 * GB, 0.0) == (4, 0)  # no memory resource reported: by CPU alone
