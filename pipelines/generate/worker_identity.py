"""What a cue worker was loaded from, and whether that serves a request: the check that keeps a warm worker (``cues
up``) from answering with old code, other models or other render settings.

A worker records its identity when it starts; the driver compares it with what the batch asks for
(:func:`mismatch`). The code is identified by a digest of the package's source files rather than by its version
number, which an editable install does not bump when the code changes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[2]  # the folder holding schemas/ and pipelines/
CODE_FOLDERS = ("schemas", "pipelines")  # what a cue worker runs; services/ is the driver's
CODE_SUFFIXES = (".py", ".yaml")  # the code and its data tables (palettes, grooves, mix); models are checked apart


def code_digest(root: Path = PACKAGE_ROOT) -> str:
    """sha256 (16 hex) of every source and data-table file a cue worker runs, by path and content (~150 files,
    a few ms)."""
    digest = hashlib.sha256()
    for folder in CODE_FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.suffix in CODE_SUFFIXES and path.is_file() and "__pycache__" not in path.parts:
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class WorkerIdentity:
    """What a cue worker loaded: ``code`` (:func:`code_digest` when it started), ``models`` (the bundle's URI as
    asked; None: the shipped one) and their ``model_versions``, ``render`` (its ``RenderConfig`` as JSON), its
    process ``pid``, and ``models_changed`` when the bundle's files changed on disk since it loaded them."""

    code: str
    models: str | None
    render: str
    model_versions: dict[str, str] = field(default_factory=dict)
    pid: int = 0
    models_changed: bool = False


def mismatch(worker: WorkerIdentity, wanted: WorkerIdentity) -> str | None:
    """Why ``worker`` cannot serve a batch that asks for ``wanted`` (its ``code``, ``models`` and ``render``), or
    None when it can."""
    if worker.code != wanted.code:
        return "it runs other code (started before the code changed, or from another checkout)"
    if worker.models != wanted.models:
        return f"it loaded the models {worker.models or 'shipped'}, the batch asks for {wanted.models or 'shipped'}"
    if worker.models_changed:
        return f"the models {worker.models or 'shipped'} changed on disk since it loaded them"
    if worker.render != wanted.render:
        return "it renders with other settings (--soundfont)"
    return None
