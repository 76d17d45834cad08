"""How much memory a cue worker needs for a batch, and how many such workers fit: the pool sizes itself by memory
as well as by CPU (issue 17).

``bench/memory.py`` measured it (issue 17). Before rendering worked in blocks (renderer ``render-3``), a worker held
about 290 MB with its synth loaded and rendering grew it by about 9 MB per second of audio (every stem held whole
as float32 and float64 through the stages, every file as bytes: a 600 s cue peaked at 5.8 GB). Since ``render-4``
(``pipelines/render/scratch.py``) a render holds at most ``scratch.MEMORY_BUDGET_MB`` (256 MB) of whole signals in
memory, the rest in files, and every pass goes in blocks: measured peaks 386 MB (60 s), 393 MB (180 s) and 586 MB
(600 s) with every deliverable on. The fixed part below is the loaded worker (models and synth, 320 MB), the
budget, and the blocks and buffers of a render; the slope covers what still holds a whole signal: the mix through
the true-peak limiter (pedalboard's look-ahead limiter takes the whole mix; a loop's with its wrapped ends), up to
three float32 stereo copies at 0.38 MB per second each at 48 kHz. The longest cue of the batch decides what each
worker must be able to hold. Each worker asks Ray for that much ``memory`` (so Ray places no more on a node than
fit), and the pool is capped to what the cluster's memory holds, with a warning, instead of letting the kernel's OOM
killer decide mid-batch.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from cues.schemas.batch import CueSpec
from cues.schemas.timing import parse_length

log = logging.getLogger(__name__)

MB = 1024**2


@dataclass(frozen=True)
class WorkerMemory:
    """A cue worker's memory: ``loaded_mb`` with models and synth, plus ``per_audio_s_mb`` for each second of the
    longest cue it renders, ring-out tail (``tail_s``) included."""

    loaded_mb: float = 700.0  # loaded worker 320 + the render's in-memory budget 256 + blocks and buffers ~120
    per_audio_s_mb: float = 1.2  # the limiter's whole-mix copies (3 × 0.38 MB a second of 48 kHz stereo float32)
    tail_s: float = 10.0

    def bytes_for(self, cues: Sequence[CueSpec]) -> int:
        """Bytes one worker needs to render the longest of ``cues``."""
        return self.bytes_for_seconds(max((longest_seconds(spec) for spec in cues), default=0.0))

    def bytes_for_seconds(self, longest_s: float) -> int:
        """Bytes one worker needs to render a cue of ``longest_s`` seconds."""
        return int((self.loaded_mb + self.per_audio_s_mb * (longest_s + self.tail_s)) * MB)


WORKER_MEMORY = WorkerMemory()


def longest_seconds(spec: CueSpec) -> float:
    """The cue's length in seconds: as asked, or for a length in bars the longest it can last (at 40 bpm)."""
    length = parse_length(spec.cutdown) if spec.cutdown is not None else spec.brief.length
    return length.duration_range(spec.brief.meter)[1]


def fit_memory(size: int, per_worker: int, memory: float) -> tuple[int, int]:
    """``(workers, bytes each asks for)``: at most ``size`` workers, as many as ``memory`` bytes (the cluster's) hold
    at ``per_worker`` each, never fewer than one. A worker's request is capped at 90 % of ``memory`` so that Ray can
    always place one (a cue that needs more is then tried, and says it ran out of memory if it does). Warns when
    the memory caps the pool or the request."""
    if memory <= 0:  # a cluster that reports no memory resource: size by CPU alone
        return size, 0
    ask = min(per_worker, int(memory * 0.9))
    if ask < per_worker:
        log.warning(
            "the longest cue needs about %.1f GB per worker, more than this cluster's %.1f GB of Ray memory: it may "
            "run out of memory",
            per_worker / 1024**3,
            memory / 1024**3,
        )
    fits = max(1, math.floor(memory / ask))
    if size > fits:
        log.warning(
            "the pool was capped at %d cue worker(s) by memory: each needs about %.1f GB for the longest cue and "
            "the cluster has %.1f GB",
            fits,
            per_worker / 1024**3,
            memory / 1024**3,
        )
    return min(size, fits), ask
