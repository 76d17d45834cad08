"""A cue worker's loaded state, without Ray: the models and the synth, loaded once, and the stores it delivers into.

:class:`Studio` is what a :class:`~cues.pipelines.generate.workers.CueWorker` actor holds. The store is named per
request, not per studio, so that one warm worker (``cues up``) serves batches into any store; each store is opened
once and kept. A studio knows what it was loaded from (:meth:`Studio.identity`), so that a request for other models,
other render settings or newer code does not get this studio's stale answer.

Decisions where the contract is silent: a model bundle in a local folder is watched by the size and modification
time of its files (a retrained model installed over it changes them); one in an object store by its URI only.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from functools import partial
from pathlib import Path

from cues.pipelines.compose.composer import ComposerModels
from cues.pipelines.generate.cue_writer import STORE_RETRY_DELAYS_S, deliver_cue, make_cue
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.generate.worker_identity import WorkerIdentity, code_digest
from cues.pipelines.models.bundle import DEFAULT_BUNDLE
from cues.pipelines.render.cue_renderer import CueRenderer
from cues.pipelines.store import ObjectStore, open_store
from cues.schemas.batch import CueResult, CueSpec
from cues.schemas.brief_file import read_brief_bytes
from cues.schemas.config import RenderConfig

# A short cue whose making touches what a first cue pays for once: music21's key finding, matplotlib, the synth.
SOUNDCHECK_BRIEF = b"version: 1\nid: soundcheck\nmedium: tv\nmood: playful\nlength: 4\n"


class Studio:
    """The models (``models_uri``; None: the shipped bundle) and a renderer (``render``) of one cue worker, loaded
    once; delivers cues into the store each request names. One cue is made at a time (one synth, one set of models);
    storing runs beside it."""

    def __init__(self, models_uri: str | None, render: RenderConfig, render_threads: int = 1):
        """``render_threads``: pieces of a render run at once (``CueRenderer``): the CPUs this worker has."""
        import torch

        torch.set_num_threads(1)  # batch-1 model steps: threads cost more than they give, and actors run side by side
        self.renderer = CueRenderer(render, threads=render_threads)  # first: a missing soundfont fails fast
        self.models = ComposerModels.load(models_uri)
        self._identity = WorkerIdentity(
            code=code_digest(),
            models=models_uri,
            model_versions=self.models.versions,
            render=render.model_dump_json(),
            pid=os.getpid(),
        )
        self._model_files = model_files(models_uri)
        self._stores: dict[str, ObjectStore] = {}
        self._making = threading.Lock()
        self.stages: dict[str, str] = {}  # cue id → "composing" or "rendering", while it is being made

    def identity(self) -> WorkerIdentity:
        """What this studio was loaded from; ``models_changed`` when the bundle's files on disk differ since."""
        changed = model_files(self._identity.models) != self._model_files
        return replace(self._identity, models_changed=True) if changed else self._identity

    def soundcheck(self) -> None:
        """Make one short cue in memory and store nothing, so that the first real cue does not pay the lazy imports
        and first uses (measured on a busy 2-core machine: a 7 s sting's first making took 12 s, the next ones
        3 s). A warm worker does it once it has loaded; a batch's own workers do not (it would cost the batch)."""
        [entry] = read_brief_bytes(SOUNDCHECK_BRIEF, "soundcheck.yaml")
        [spec] = expand_cues(entry.brief)
        with self._making:
            make_cue(spec, "soundcheck", self.models, self.renderer)

    def close(self) -> None:
        """Close the synths, once the cue being made (if any) is finished: a cue worker's studio lives as long as its
        process, one made in the driver (``in_process``) is closed with its batch."""
        with self._making:
            self.renderer.close()

    def deliver(
        self, store_uri: str, spec: CueSpec, retry_delays_s: tuple[float, ...] = STORE_RETRY_DELAYS_S
    ) -> CueResult:
        """Deliver ``spec`` into the store at ``store_uri``, retrying after ``retry_delays_s`` while it does not answer
        (see ``cue_writer.deliver_cue``); raises on failure."""
        if store_uri not in self._stores:
            self._stores[store_uri] = open_store(store_uri)
        stage = partial(self.stages.__setitem__, spec.cue_id)
        try:
            store = self._stores[store_uri]
            return deliver_cue(store, spec, self.models, self.renderer, self._making, stage, retry_delays_s)
        finally:
            self.stages.pop(spec.cue_id, None)


def model_files(models_uri: str | None) -> tuple[tuple[str, int, int], ...]:
    """(path, bytes, mtime in ns) of every file of a local model bundle (None: the shipped one); () for a bundle in
    an object store."""
    if models_uri is not None and "://" in models_uri and not models_uri.startswith("file://"):
        return ()
    root = Path(models_uri.removeprefix("file://")) if models_uri else DEFAULT_BUNDLE
    if not root.is_dir():
        return ()
    return tuple(
        (str(path.relative_to(root)), stat.st_size, stat.st_mtime_ns)
        for path in sorted(root.rglob("*"))
        if path.is_file() and (stat := path.stat())
    )
