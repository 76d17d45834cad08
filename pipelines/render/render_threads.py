"""The threads of one render: the independent pieces of a cue's audio work (each stem's synth pass and channel
strip, each stem's section levels, each file's measuring and writing) run side by side on a render's threads.

Why threads and not the cue's stages in a row (issue 17): our render's floor was one FluidSynth pass over every
stem, as long as the ``fluidsynth`` command's whole render, with the mix, balance, mastering and the files after it.
The work of each piece is in C libraries that release the GIL while they work (FluidSynth's
``fluid_synth_process`` through ctypes, pedalboard, scipy's ``sosfilt``, numpy, LAME, libsndfile), so on the
2-core machine two pieces run at once.

Determinism: each piece writes only its own arrays and files (integer sums shared by several files are added under
a lock, and integer addition does not depend on the order), and results come back in the order of the items, so
a cue's files are the same with any number of threads (``tests/test_render.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


def in_order(work: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
    """Each item's work, one after the other: what :meth:`RenderThreads.map` does on one thread, and the default
    ``run`` of the functions that take one (``balance.section_levels``, ``deliverables.encode``)."""
    return [work(item) for item in items]


class RenderThreads:
    """``threads`` threads for the pieces of renders (1: every piece in the caller's thread). Close it when done."""

    def __init__(self, threads: int) -> None:
        self.threads = threads
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="cues-render") if threads > 1 else None

    def map(self, work: Callable[[Item], Result], items: Iterable[Item]) -> list[Result]:
        """``[work(item) for item in items]``, the items shared out among the threads (first come, first served:
        give the longest first). Every piece has stopped when this returns or raises (the first failure, in the
        items' order), so a failed render's scratch folder is not deleted under a piece still writing into it."""
        items = list(items)
        if self._pool is None or len(items) < 2:
            return in_order(work, items)
        futures = [self._pool.submit(work, item) for item in items]
        wait(futures)
        return [future.result() for future in futures]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
