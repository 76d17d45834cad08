"""Finding and fetching delivered cues in a store: what ``cues ls``, ``show``, ``get`` and ``url`` do.

A cue is delivered when its folder ``cues/<cue-id>/<render-key>/`` has a ``manifest.json`` (written last);
folders without one are never listed or returned. A cue is named by its id (the newest delivered render wins,
and the others are reported) or by ``<cue-id>/<render-key>``. Names and file names are checked before they reach
the store, so ``../``, absolute paths and the like are refused, and only files the manifest lists can be fetched.
Every fetched file is checked against the manifest's sha256.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cues.pipelines.store import ObjectStore
from cues.schemas.batch import read_batch_record
from cues.schemas.errors import IntegrityError, InvalidRequest, StoreNotFound
from cues.schemas.manifest import CueManifest, FileEntry, read_manifest

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,127}$")  # cue ids and render keys: slugs
FORMAT_SUFFIX = {"wav": ".wav", "flac": ".flac", "mp3": ".mp3", "midi": ".mid"}


class CueNotFound(StoreNotFound):
    """No delivered cue has that name in this store."""


@dataclass(frozen=True)
class DeliveredCue:
    """A cue found in the store: its folder (``prefix``) and manifest."""

    prefix: str
    manifest: CueManifest

    @property
    def cue_id(self) -> str:
        return self.manifest.cue_id

    @property
    def render_key(self) -> str:
        return self.manifest.cue_key

    @property
    def created(self) -> str:
        return self.manifest.created

    @property
    def files(self) -> dict[str, FileEntry]:
        return self.manifest.files

    def summary(self) -> dict:
        """The fields ``cues ls`` shows."""
        manifest, mix = self.manifest, self.manifest.mix
        return {
            "cue_id": self.cue_id,
            "render_key": self.render_key,
            "title": manifest.brief.title or "",
            "medium": manifest.brief.medium.value,
            "mood": "/".join(manifest.plan.moods),
            "key": manifest.plan.key,
            "tempo_bpm": manifest.plan.tempo_bpm,
            "duration_s": manifest.audio.duration_s,
            "loudness_lufs": mix.loudness_lufs if mix else None,
            "created": self.created,
        }


def read_delivered(store: ObjectStore, prefix: str) -> DeliveredCue:
    """The cue in the folder ``prefix`` (``cues/<cue-id>/<render-key>``); :class:`IntegrityError` when its manifest
    is damaged or names another cue than its folder does."""
    where = f"{store.uri.rstrip('/')}/{prefix}/manifest.json"
    manifest = read_manifest(store.get_bytes(f"{prefix}/manifest.json"), where)
    if manifest.prefix != prefix:
        raise IntegrityError(
            f"{where} names cue {manifest.cue_id}/{manifest.cue_key}, not its folder: the manifest was edited or "
            "copied; re-run its batch to deliver the cue again"
        )
    return DeliveredCue(prefix, manifest)


def check_name(name: str, what: str = "cue id") -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise InvalidRequest(
            f"bad {what} {name!r}: use lowercase letters, digits, '-' and '_' (as `cues ls` shows them)"
        )
    return name


def delivered(store: ObjectStore, cue_id: str | None = None) -> Iterator[DeliveredCue]:
    """Every delivered cue in the store (or every render of ``cue_id``), in key order."""
    prefix = f"cues/{check_name(cue_id)}/" if cue_id else "cues/"
    for key in store.list(prefix):
        parts = key.split("/")
        if len(parts) == 4 and parts[3] == "manifest.json":
            yield read_delivered(store, key.rsplit("/", 1)[0])


def list_cues(
    store: ObjectStore, batch: str | None = None, medium: str | None = None, mood: str | None = None
) -> list[DeliveredCue]:
    """Delivered cues, optionally only those of ``batch`` (its delivered cues), of ``medium``, with ``mood``."""
    if batch:
        key = f"batches/{check_name(batch, 'batch id')}/batch.json"
        try:
            record = read_batch_record(store.get_bytes(key), f"{store.uri.rstrip('/')}/{key}")
        except StoreNotFound:
            raise CueNotFound(f"no batch {batch!r} in {store.uri}") from None
        cues = [
            read_delivered(store, r.prefix) for r in record.delivered if store.exists(f"{r.prefix}/manifest.json")
        ]
    else:
        cues = list(delivered(store))
    if medium:
        cues = [c for c in cues if c.manifest.brief.medium.value == medium]
    if mood:
        cues = [c for c in cues if mood in c.manifest.plan.moods]
    return cues


def find_cue(store: ObjectStore, name: str) -> tuple[DeliveredCue, list[DeliveredCue]]:
    """The cue called ``name`` (``<cue-id>`` or ``<cue-id>/<render-key>``) and its other delivered renders."""
    parts = name.split("/") if isinstance(name, str) else []
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise InvalidRequest(f"bad cue id {name!r}: use <cue-id> or <cue-id>/<render-key>, as `cues ls` shows them")
    cue_id, render_key = parts[0], parts[1] if len(parts) == 2 else ""
    check_name(cue_id)
    if render_key:
        check_name(render_key, "render key")
        prefix = f"cues/{cue_id}/{render_key}"
        try:
            return read_delivered(store, prefix), []
        except StoreNotFound:
            raise CueNotFound(f"no delivered cue {name!r} in {store.uri}") from None
    renders = sorted(delivered(store, cue_id), key=lambda c: (c.created, c.prefix))
    if not renders:
        raise CueNotFound(f"no delivered cue {cue_id!r} in {store.uri}; `cues ls` lists the cues there")
    return renders[-1], renders[:-1]


def select_files(cue: DeliveredCue, stems: bool = False, fmt: str | None = None) -> list[str]:
    """Names of the files ``cues get`` fetches: the mix (in ``fmt``, default every format delivered), the MIDI and
    the plan; with ``stems``, the stems too. Always the manifest."""
    suffixes = [FORMAT_SUFFIX[fmt]] if fmt else [".wav", ".flac", ".mp3", ".mid"]
    chosen = []
    for name in cue.files:
        is_stem = name.startswith("stems/")
        if is_stem and not stems:
            continue
        if any(name.endswith(s) for s in suffixes) or (not fmt and name in ("plan.json", "pianoroll.png")):
            chosen.append(name)
    if not chosen:
        raise InvalidRequest(f"cue {cue.cue_id} has no {fmt} file (it has: {', '.join(sorted(cue.files))})")
    return chosen


def fetch(store: ObjectStore, cue: DeliveredCue, names: list[str], dest: Path) -> list[Path]:
    """Download ``names`` of ``cue`` into ``dest/<cue-id>/``, each checked against the manifest's sha256, plus the
    manifest itself. A file that does not match is removed and raises :class:`IntegrityError`."""
    folder = Path(dest) / cue.cue_id
    written = []
    for name in names:
        entry = _listed(cue, name)
        path = store.get_file(f"{cue.prefix}/{name}", folder / name)
        digest = _sha256(path)
        if digest != entry.sha256:
            path.unlink()
            raise IntegrityError(
                f"{cue.prefix}/{name}: sha256 {digest[:12]}… does not match the manifest's {entry.sha256[:12]}…; "
                "the stored file changed after delivery (re-run the batch to deliver it again)"
            )
        written.append(path)
    manifest = folder / "manifest.json"
    manifest.write_bytes(cue.manifest.to_json())
    return [*written, manifest]


def file_url(store: ObjectStore, cue: DeliveredCue, name: str = "mix.wav", expires: int = 3600) -> str:
    """A URL for one of ``cue``'s files: presigned (S3) or the file's path (local store)."""
    _listed(cue, name)
    return store.presigned_url(f"{cue.prefix}/{name}", expires)


def _listed(cue: DeliveredCue, name: str) -> FileEntry:
    if name not in cue.files:
        raise InvalidRequest(f"{name!r} is not a file of cue {cue.cue_id} (it has: {', '.join(sorted(cue.files))})")
    return cue.files[name]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
