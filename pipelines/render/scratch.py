"""A render's scratch folder: the whole-cue signals of one cue (the synth's buses, the mix, the alternates, the
layers, the encoded files) as files the renderer owns and deletes, so a worker's memory does not grow with the cue.

A render keeps its first :data:`MEMORY_BUDGET_MB` of signals in memory as plain arrays (a 60 s, 6-stem cue's buses
are 143 MB: a short cue pays no file I/O or page faults) and the rest as float32 files mapped into memory
(``mmap``): every stage keeps working on arrays, in place, but the pages live in the page cache, not in the
worker's heap. A page the process has touched still counts in its resident memory until it is unmapped, so passes
over a whole signal call :func:`release` every :data:`RELEASE_SAMPLES` (``madvise(MADV_DONTNEED)``: on a shared
file mapping the pages leave the process and their contents stay in the file). Measured on a 600 s, 6-stem cue:
the synth's buses alone are 1.4 GB of float32.

:func:`blocks` is how every whole-signal pass walks a signal: in pieces of :data:`BLOCK` samples, releasing as it
goes. Pure arithmetic done this way gives the same samples as the whole-array operation (element-wise float32).
"""

from __future__ import annotations

import mmap
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

BLOCK = 1 << 16  # samples per block of a whole-signal pass (numpy's per-call cost is negligible at this size)
SIGNALS = "signals"  # the scratch folder's sub-folder of signal files (the delivered files sit beside it)
MEMORY_BUDGET_MB = 256.0  # signals held in memory per render before they go to files: the bound's fixed part
RELEASE_SAMPLES = 1 << 20  # samples between releases: ~8 MB of a stereo float32 signal stays mapped at most


class Scratch:
    """A temporary folder holding one render's signals and files; :meth:`close` deletes it (also on collection)."""

    def __init__(self, prefix: str = "cues-render-", memory_budget_mb: float = MEMORY_BUDGET_MB) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix=prefix))
        self._count = 0
        self._in_memory = memory_budget_mb * 1024**2  # bytes of signals that may still be held in memory
        self.delivers = False  # its files are a render's delivered files: kept until their owner closes it

    def path(self, name: str) -> Path:
        """A path in the folder for the file ``name`` (folders in it are created)."""
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def array(self, shape: tuple[int, ...], dtype=np.float32) -> np.ndarray:
        """A zeroed array of ``shape``: in memory while the render's budget lasts, else backed by a new file of the
        folder (a sparse file: zero costs nothing until written)."""
        self._count += 1
        count = int(np.prod(shape))
        size = max(count * np.dtype(dtype).itemsize, 1)
        if size <= self._in_memory:
            self._in_memory -= size
            return np.zeros(shape, dtype=dtype)
        with open(self.path(f"{SIGNALS}/{self._count}.raw"), "w+b") as handle:
            handle.truncate(size)
            mapped = mmap.mmap(handle.fileno(), size)
        return np.frombuffer(mapped, dtype=dtype, count=count).reshape(shape)

    def drop_signals(self) -> None:
        """Delete the signals' files (arrays still mapped stay readable; the disk is freed when they go), and the
        whole folder unless it holds delivered files."""
        shutil.rmtree(self.folder if not self.delivers else self.folder / SIGNALS, ignore_errors=True)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> Scratch:
        return self

    def __exit__(self, *_) -> None:
        self.close()


def release(*arrays: np.ndarray) -> None:
    """Unmap the touched pages of every file-backed array among ``arrays`` from this process (their contents stay
    in the file); arrays in memory are left alone."""
    for array in arrays:
        base = array
        while base is not None and not isinstance(base, mmap.mmap):
            base = getattr(base, "base", None) if isinstance(base, np.ndarray) else getattr(base, "obj", None)
        if isinstance(base, mmap.mmap) and not base.closed:
            base.madvise(mmap.MADV_DONTNEED)


def blocks(samples: int, *arrays: np.ndarray, size: int = BLOCK, start: int = 0) -> Iterator[slice]:
    """The slices ``[start, samples)`` in steps of ``size``; ``arrays`` are released every
    :data:`RELEASE_SAMPLES` and at the end."""
    since = 0
    for first in range(start, samples, size):
        yield slice(first, min(first + size, samples))
        since += size
        if since >= RELEASE_SAMPLES:
            release(*arrays)
            since = 0
    release(*arrays)


def scale(audio: np.ndarray, gain, start: int = 0, stop: int | None = None) -> None:
    """``audio[..., start:stop] *= gain`` in place, in blocks (``gain`` a float32 scalar or a per-channel column)."""
    stop = audio.shape[-1] if stop is None else stop
    for part in blocks(stop, audio, start=start):
        audio[..., part] *= gain


def summed(out: np.ndarray, stems: np.ndarray, members) -> np.ndarray:
    """``out[:] = stems[members].sum(axis=0)`` in float32, in blocks (the same samples as the whole sum)."""
    members = list(members)
    for part in blocks(stems.shape[-1], stems, out):
        if members:
            out[..., part] = stems[members, :, part].sum(axis=0, dtype=np.float32)
    return out


def abs_peak(audio: np.ndarray) -> float:
    """The largest absolute sample of ``audio`` (0 for none), in blocks."""
    peak = 0.0
    for part in blocks(audio.shape[-1], audio):
        if audio[..., part].size:
            peak = max(peak, float(np.abs(audio[..., part]).max()))
    return peak


def zeros(scratch: Scratch | None, shape: tuple[int, ...]) -> np.ndarray:
    """A zeroed float32 array of ``shape``: a file of ``scratch``, or in memory without one."""
    return scratch.array(shape) if scratch is not None else np.zeros(shape, dtype=np.float32)
