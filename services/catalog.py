"""Finding and fetching delivered cues in a store: what ``cues ls``, ``show``, ``get`` and ``url`` do.

A cue is delivered when its folder ``cues/<cue-id>/<render-key>/`` has a ``manifest.json`` (written last);
folders without one are never listed or returned. A cue is named by its id (the newest delivered render wins,
and the others are reported) or by ``<cue-id>/<render-key>``. Names and file names are checked before they reach
the store, so ``../``, absolute paths and the like are refused, and only files the manifest lists can be fetched.
Every fetched file is checked against the manifest's sha256.

Decisions where the contract is silent:

- A damaged manifest (not JSON, not a manifest, naming another folder) or a folder that is not a cue's hides only
  its own cue: listings pass it to ``on_unreadable`` and go on (the CLI prints a warning naming it); named on its
  own (``cues show <cue-id>/<render-key>``, or a cue id with no readable render) it raises :class:`IntegrityError`.
  A cue id whose newest render is damaged gives its newest readable one, after the warning.
- ``cues get`` is all or nothing: files go to a temporary folder inside ``-o`` first and are moved into place only
  when every sha256 checks out; the folder is named after the cue's folder in the store, and a destination that
  resolves outside ``-o`` (through a symlink) is refused.
- Downloaded files carry the cue id (:func:`~cues.schemas.manifest.download_name`: ``night-chase_mix.wav``,
  ``night-chase_stems_bass.wav``, the manifest too), in ``cues get``'s folder and in presigned links' downloads, so
  the files of many cues never collide; the store's own names stay as they are.
- A batch record must name its own folder and have one result per cue, each in its own cue folder; else
  :class:`IntegrityError` (``cues report`` writes only into the folder named on the command line).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cues.pipelines.render.id3 import id3_tags, tagged_mp3
from cues.pipelines.render.transcode import transcoded
from cues.pipelines.store import ObjectStore
from cues.schemas.batch import BatchRecord, read_batch_record
from cues.schemas.errors import IntegrityError, InvalidRequest, StoreError, StoreNotFound
from cues.schemas.manifest import CueManifest, FileEntry, download_name, read_manifest
from cues.schemas.moods import MOOD_ALIASES, MOODS, canonical_mood, did_you_mean

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,127}")  # cue ids, render keys, batch ids: slugs (use fullmatch)
FORMAT_SUFFIX = {"wav": ".wav", "flac": ".flac", "mp3": ".mp3", "midi": ".mid"}
TRANSCODABLE = ("flac", "mp3")  # formats ``cues get`` makes from a delivered WAV when they were not delivered


class CueNotFound(StoreNotFound):
    """No delivered cue has that name in this store."""


Unreadable = Callable[[StoreError], None]  # told about each record a listing skips (damaged or missing)


@dataclass(frozen=True)
class DeliveredCue:
    """A cue found in the store: its folder (``prefix``) and manifest."""

    prefix: str
    manifest: CueManifest

    @property
    def cue_id(self) -> str:
        """The cue's folder name in the store (its manifest says the same, or it is not read)."""
        return self.prefix.split("/")[1]

    @property
    def render_key(self) -> str:
        return self.prefix.split("/")[2]

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
    key = f"{prefix}/manifest.json"
    where = store.uri_for(key)
    manifest = read_manifest(store.get_bytes(key), where)
    if manifest.prefix != prefix:
        raise IntegrityError(
            f"{where} names cue {manifest.cue_id}/{manifest.cue_key}, not its folder: the manifest was edited or "
            "copied; re-run its batch to deliver the cue again"
        )
    return DeliveredCue(prefix, manifest)


def check_name(name: str, what: str = "cue id") -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidRequest(
            f"bad {what} {name!r}: use lowercase letters, digits, '-' and '_' (as `cues ls` shows them)"
        )
    return name


def delivered(
    store: ObjectStore, cue_id: str | None = None, on_unreadable: Unreadable | None = None
) -> Iterator[DeliveredCue]:
    """Every delivered cue in the store (or every render of ``cue_id``), in key order. A cue whose manifest cannot
    be read goes to ``on_unreadable`` and is left out; without it, its :class:`IntegrityError` is raised."""
    prefix = f"cues/{check_name(cue_id)}/" if cue_id else "cues/"
    for key in store.list(prefix):
        parts = key.split("/")
        if len(parts) != 4 or parts[3] != "manifest.json":
            continue
        try:
            if not (NAME_RE.fullmatch(parts[1]) and NAME_RE.fullmatch(parts[2])):
                raise IntegrityError(
                    f"{store.uri.rstrip('/')}/{key!r} is not in a cue folder (cues/<cue-id>/<render-key>/, "
                    "lowercase letters, digits, '-' and '_'): move or remove it"
                )
            cue = read_delivered(store, key.rsplit("/", 1)[0])
        except IntegrityError as error:
            if on_unreadable is None:
                raise
            on_unreadable(error)
            continue
        yield cue


def list_batches(store: ObjectStore, on_unreadable: Unreadable | None = None) -> list[BatchRecord]:
    """Every batch recorded in the store (``batches/<batch-id>/batch.json``), newest first run first. A damaged
    record goes to ``on_unreadable`` and is left out; without it, it raises."""
    records = []
    for key in store.list("batches/"):
        parts = key.split("/")
        if len(parts) != 3 or parts[2] != "batch.json":
            continue
        try:
            records.append(read_batch(store, parts[1]))
        except (IntegrityError, InvalidRequest) as error:
            if on_unreadable is None:
                raise
            on_unreadable(error if isinstance(error, IntegrityError) else IntegrityError(str(error)))
    return sorted(records, key=lambda r: (r.created, r.batch_id), reverse=True)


def batch_summary(store: ObjectStore, record: BatchRecord) -> dict:
    """One batch as ``cues batches`` lists it (text and JSON)."""
    return {
        "batch_id": record.batch_id,
        "created": record.created,  # the first run's: a re-run keeps it (BatchRecord.after)
        "last_run": record.runs[-1].started if record.runs else record.created,
        "runs": max(1, len(record.runs)),
        "status": record.status,
        "schedule": record.schedule,
        "occurrence": record.occurrence,
        "sources": list(record.sources),
        "cues": len(record.cues),
        "delivered": len(record.delivered),
        "failed": len(record.failed_cues),
        "invalid_briefs": len(record.failures),
        "report": store.uri_for(f"{record.folder}/report.html"),
    }


def read_batch(store: ObjectStore, batch_id: str) -> BatchRecord:
    """The record of batch ``batch_id`` (``batches/<batch-id>/batch.json``); :class:`IntegrityError` when it is
    damaged, names another batch, or its results do not match its cues or point outside their cue folders."""
    key = f"batches/{check_name(batch_id, 'batch id')}/batch.json"
    where = store.uri_for(key)
    try:
        record = read_batch_record(store.get_bytes(key), where)
    except StoreNotFound:
        raise CueNotFound(f"no batch {batch_id!r} in {store.uri}") from None
    if record.batch_id != batch_id:
        raise IntegrityError(
            f"{where} names batch {record.batch_id!r}, not its folder: the record was edited or copied; "
            "re-run the batch"
        )
    if len(record.results) != len(record.cues):
        raise IntegrityError(
            f"{where} has {len(record.results)} result(s) for {len(record.cues)} cue(s): the record is incomplete or "
            "was edited; re-run the batch"
        )
    for number, result in enumerate(record.results, 1):
        folder = f"cues/{result.cue_id}/{result.key}"
        named = NAME_RE.fullmatch(result.cue_id) and NAME_RE.fullmatch(result.key)
        if result.ok and not (named and result.prefix == folder):
            raise IntegrityError(
                f"{where} result {number} ({result.cue_id!r}) names the folder {result.prefix!r}, not {folder!r}: "
                "the record was edited; re-run the batch"
            )
    return record


def list_cues(
    store: ObjectStore,
    batch: str | None = None,
    medium: str | None = None,
    mood: str | None = None,
    on_unreadable: Unreadable | None = None,
) -> list[DeliveredCue]:
    """Delivered cues, optionally only those of ``batch`` (its delivered cues), of ``medium``, with ``mood`` (a
    mood or a synonym, any case). A cue whose manifest cannot be read goes to ``on_unreadable`` (see
    :func:`delivered`); a damaged batch record raises, and so does a word that is no mood (with suggestions)."""
    wanted = None
    if mood:
        wanted = canonical_mood(mood)
        if wanted is None:
            hint = did_you_mean(mood.strip(), (*MOODS, *MOOD_ALIASES))
            raise InvalidRequest(f"unknown mood {mood!r}{hint}; `cues moods` lists the moods and their synonyms")
    if batch:
        cues = []
        for result in read_batch(store, batch).delivered:
            if not store.exists(f"{result.prefix}/manifest.json"):
                continue
            try:
                cues.append(read_delivered(store, result.prefix))
            except IntegrityError as error:
                if on_unreadable is None:
                    raise
                on_unreadable(error)
    else:
        cues = list(delivered(store, on_unreadable=on_unreadable))
    if medium:
        cues = [c for c in cues if c.manifest.brief.medium.value == medium]
    if wanted:
        cues = [c for c in cues if wanted in c.manifest.plan.moods]
    return cues


def find_cue(
    store: ObjectStore, name: str, on_unreadable: Unreadable | None = None
) -> tuple[DeliveredCue, list[DeliveredCue]]:
    """The cue called ``name`` (``<cue-id>`` or ``<cue-id>/<render-key>``) and its other delivered renders.

    A damaged render of a cue id goes to ``on_unreadable`` and the newest readable one is taken; with no readable
    render left (or without ``on_unreadable``), the damage raises :class:`IntegrityError`."""
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
    damaged: list[StoreError] = []
    renders = sorted(delivered(store, cue_id, damaged.append), key=lambda c: (c.created, c.prefix))
    if damaged and (not renders or on_unreadable is None):
        raise damaged[0]
    for error in damaged:
        on_unreadable(error)
    if not renders:
        raise CueNotFound(f"no delivered cue {cue_id!r} in {store.uri}; `cues ls` lists the cues there")
    return renders[-1], renders[:-1]


def select_files(cue: DeliveredCue, stems: bool = False, fmt: str | None = None) -> list[str]:
    """Names of the files ``cues get`` fetches: the mix and the alternate mixes (in ``fmt``, default every format
    delivered), the MIDI and the plan; with ``stems``, the stems too. Always the manifest. With ``fmt`` flac or
    mp3, a file delivered only as WAV is named in that format too (``stems/bass.flac``; the mix as ``mix.mp3``
    unless the MP3 preview was delivered): :func:`fetch` makes it from the WAV (``transcode.py``)."""
    suffixes = [FORMAT_SUFFIX[fmt]] if fmt else [".wav", ".flac", ".mp3", ".mid"]
    wanted = [n for n in cue.files if stems or not n.startswith("stems/")]
    extras = () if fmt else ("plan.json", "pianoroll.png")
    chosen = [n for n in wanted if any(n.endswith(s) for s in suffixes) or n in extras]
    if fmt in TRANSCODABLE:
        for name in wanted:
            made = name.removesuffix(".wav") + FORMAT_SUFFIX[fmt]
            if name.endswith(".wav") and made not in cue.files and made not in chosen:
                if not (name == "mix.wav" and "preview.mp3" in chosen):
                    chosen.append(made)
    if not chosen:
        raise InvalidRequest(f"cue {cue.cue_id} has no {fmt} file (it has: {', '.join(sorted(cue.files))})")
    return chosen


def fetch(store: ObjectStore, cue: DeliveredCue, names: list[str], dest: Path) -> list[Path]:
    """Download ``names`` of ``cue`` into ``dest/<cue-id>/`` (the cue's folder name in the store), plus the manifest,
    each named :func:`download_name` (``<cue-id>_mix.wav``),
    all or nothing: into a temporary folder inside ``dest`` first, each file checked against the manifest's sha256,
    then moved into place (replacing files of an earlier fetch; other files there stay). A file that does not match
    raises :class:`IntegrityError` and nothing is left behind; a destination that resolves outside ``dest`` (through
    a symlink), or a ``dest`` that cannot be a folder, raises :class:`InvalidRequest`. A name the cue was not
    delivered in (``stems/bass.flac``) is made from its WAV once that is checked (``transcode.py``; an MP3 gets the
    cue's ID3 tags)."""
    made = {name: name.rsplit(".", 1)[0] + ".wav" for name in names if name not in cue.files}
    entries = {name: _listed(cue, name) for name in [*[n for n in names if n in cue.files], *made.values()]}
    root = Path(dest).resolve()
    targets = {name: Path(dest) / cue.cue_id / download_name(cue.cue_id, name) for name in [*names, "manifest.json"]}
    for target in targets.values():
        if not target.resolve().is_relative_to(root):
            raise InvalidRequest(
                f"cues get writes only inside -o {dest}: {cue.cue_id}/{target.name} would go to {target.resolve()} "
                "(through a symlink); remove the link or choose another -o"
            )
    if root.exists() and not root.is_dir():
        raise InvalidRequest(f"-o {dest} is not a folder; name a folder to write {cue.cue_id}/ into")
    try:
        root.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".cues-get-", dir=root))
    except OSError as err:
        raise InvalidRequest(f"cannot write into -o {dest}: {err.strerror or err}; choose another folder") from None
    try:
        for name, entry in entries.items():
            digest = _sha256(store.get_file(f"{cue.prefix}/{name}", staging / name))
            if digest != entry.sha256:
                raise IntegrityError(
                    f"{cue.prefix}/{name}: sha256 {digest[:12]}… does not match the manifest's {entry.sha256[:12]}…; "
                    "the stored file changed after delivery (re-run the batch to deliver it again); nothing was "
                    "written"
                )
        for name, wav in made.items():  # formats not delivered, made from the checked WAV
            data = transcoded((staging / wav).read_bytes(), name.rsplit(".", 1)[1], seed=cue.manifest.plan.seed)
            if name.endswith(".mp3"):
                data = tagged_mp3(data, id3_tags(cue.manifest.plan, cue.manifest.brief, cue.cue_id, cue.render_key))
            (staging / name).parent.mkdir(parents=True, exist_ok=True)
            (staging / name).write_bytes(data)
        (staging / "manifest.json").write_bytes(cue.manifest.to_json())
        for name, target in targets.items():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, target)
    except OSError as err:
        raise InvalidRequest(f"cannot write {cue.cue_id}/ into -o {dest}: {err.strerror or err}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return list(targets.values())


def file_url(store: ObjectStore, cue: DeliveredCue, name: str = "mix.wav", expires: int = 3600) -> str:
    """A URL for one of ``cue``'s files: presigned (S3; downloaded as :func:`download_name`) or the file's path
    (local store)."""
    _listed(cue, name)
    return store.presigned_url(f"{cue.prefix}/{name}", expires, filename=download_name(cue.cue_id, name))


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
