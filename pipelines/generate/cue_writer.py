"""Delivering one cue into the store: compose, measure, render and master it (:func:`make_cue`: the audio files
finished in the render's scratch folder, the rest in memory), then write its files, uploaded from there, and its
manifest last (:func:`store_cue`); :func:`deliver_cue` does both unless the cue is there.

Layout (``docs/contracts/store-layout.md``): ``cues/<cue-id>/<render-key>/`` holds ``plan.json``, ``pianoroll.png``,
the audio the brief's ``delivery`` asks for (``mix.wav``/``mix.flac``, ``stems/<stem>.wav``/``.flac``,
``preview.mp3``), ``cue.mid`` when ``midi`` is one of its formats, and ``manifest.json`` written last, so a folder
without ``manifest.json`` is never a result, and a cue whose manifest exists is skipped. The render key hashes
everything that decides the cue's content: the resolved brief, seed, cutdown, the models' versions, the composer's
version, and the renderer's identity (its version, the sha256 of the soundfont the cue's palette renders with, and
the render settings, the mix's switch included).

Decisions where the contract is silent:

- Two deliveries of one cue at once (two submits of the same briefs, a retried worker): the same render key gives
  byte-identical files (no clock in any file; the manifest's ``created`` is the only wall-clock time, and no manifest
  hashes it), so two writers of the same keys write the same bytes. ``manifest.json`` is written if absent: the
  second writer gets :class:`StoreConflict`, reads the winner's manifest, checks that its own files have the same
  hashes and reports the cue ``skipped`` (delivered by the other). Before uploading, a delivery looks for the
  manifest again, so one that finished making a cue after the other delivered it uploads nothing. There is no claim
  that would stop the second from rendering: that costs CPU in a rare case, while a claim needs a lease, and a cue
  whose worker died would wait for it to expire.
- A store that does not answer for a moment (an endpoint restart, 5xx, throttling: :class:`StoreUnavailable`)
  fails a cue only after the retries of ``GenerateConfig.store_retry_delays_s`` (by default about 15 s:
  ``STORE_RETRY_DELAYS_S``); every step of storing a cue is safe to repeat. Other store errors (access denied, a
  missing bucket) fail it at once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from cues.pipelines.compose.composer import COMPOSER_VERSION, ComposerModels, compose_cue
from cues.pipelines.compose.layers import layer_stems
from cues.pipelines.compose.quality import measure
from cues.pipelines.compose.score import LEAD_STEM
from cues.pipelines.generate.stinger_delivery import stinger_files
from cues.pipelines.render.cue_renderer import AudioRequest, CueRenderer, RenderedAudio
from cues.pipelines.render.id3 import id3_tags
from cues.pipelines.render.midi_events import StemRoute
from cues.pipelines.report.pianoroll import pianoroll_png
from cues.pipelines.store import ObjectStore
from cues.pipelines.store.base import sha256_file
from cues.schemas.alternates import alternate_groups
from cues.schemas.batch import CueResult, CueSpec
from cues.schemas.brief import AudioFormat, ResolvedBrief, canonical_hash
from cues.schemas.config import GenerateConfig
from cues.schemas.errors import StoreConflict, StoreUnavailable
from cues.schemas.manifest import MANIFEST_VERSION, CueManifest, FileEntry, read_manifest
from cues.schemas.plan import Plan
from cues.schemas.stem_grouping import delivered_stems

log = logging.getLogger(__name__)

CONTENT_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".mid": "audio/midi"}
# Seconds to wait before each retry when the store does not answer, unless a batch's config says otherwise.
STORE_RETRY_DELAYS_S: tuple[float, ...] = GenerateConfig.model_fields["store_retry_delays_s"].default

T = TypeVar("T")


def render_key(spec: CueSpec, model_versions: dict[str, str], renderer: dict) -> str:
    """A hash of everything that decides the cue's files (``renderer`` = ``CueRenderer.identity``): ``k-`` + 12 hex."""
    identity = {"cue": spec.content_hash(), "models": model_versions, "code": COMPOSER_VERSION, "render": renderer}
    return "k-" + canonical_hash(identity)[:12]


def audio_request(plan: Plan, midi: bytes, brief: ResolvedBrief, key: str, cue_id: str | None = None) -> AudioRequest:
    """What the renderer needs for a composed cue: its stems' channels, length, ending, delivery, sections and lead,
    the stems the brief's ``delivery.stems`` gathers from them, its alternate mixes, and the files' metadata (the
    WAVs' bext description, the MP3's ID3 tags) for the cue ``cue_id`` (default: the brief's id).

    The bext ``TimeReference`` is 0 (the file starts at timecode 00:00:00:00): a brief gives no start timecode, and
    a cue is placed in an edit by its hits and length, not by a position in a reel."""
    cue_id = cue_id or plan.brief_id
    named = f"{brief.title} ({cue_id})" if brief.title else cue_id
    tempo = f"{plan.tempo_bpm:.0f} bpm"
    grouping, _ = delivered_stems(brief.delivery.stems, [stem.name for stem in plan.stems])
    _, steps, _, duration_us = plan.tempo_map_us[-1]
    audio_files = {AudioFormat.wav, AudioFormat.flac} & set(brief.delivery.formats)
    last_bar_s = plan.steps_per_bar * duration_us / steps / 1e6
    return AudioRequest(
        midi=midi,
        stems=tuple(StemRoute(stem.name, stem.channels or stem.channel) for stem in plan.stems),
        length_s=plan.length_s,
        ending=plan.ending,
        delivery=brief.delivery,
        fade_s=last_bar_s,
        title=f"{named}, {plan.key}, {tempo}, {plan.meter}",
        reference=key,
        id3=id3_tags(plan, brief, cue_id, key),
        seed=plan.seed,
        sections=tuple((section.start_s, section.end_s) for section in plan.sections),
        lead=LEAD_STEM if any(stem.name == LEAD_STEM for stem in plan.stems) else None,
        grouping=tuple(grouping.items()) if brief.delivery.stems is not False else None,
        alternates=tuple(
            (name, tuple(g.value for g in groups))
            for name, groups in alternate_groups(brief.delivery.alternates, brief.delivery.stems).items()
        ),
        markers=cue_markers(plan),
        # layers exist as WAV or FLAC only, like stems
        layers=(tuple(layer_stems(plan, brief.delivery.layers).items()) or None) if audio_files else None,
        mood=plan.moods[0],
    )


def cue_markers(plan: Plan) -> tuple[tuple[str, float], ...]:
    """The times a loop's WAVs mark with cue points: each section's start (labelled as the plan labels it) and each
    hit where it landed (``hit 1``, ``hit 2``, … in time order)."""
    sections = [(f"section {s.label}", s.start_s) for s in plan.sections]
    hits = [(f"hit {i}", hit.achieved_s) for i, hit in enumerate(plan.hits, 1)]
    return tuple(sorted(sections + hits, key=lambda marker: marker[1]))


@dataclass(frozen=True)
class MadeCue:
    """A composed and rendered cue: its files (name → bytes, or the path of a finished file in the render's scratch
    folder for the audio; content type; the numbers its manifest entry carries) and the rest of its manifest;
    :func:`store_cue` adds each file's size and sha256 as it writes it. :meth:`close` deletes the audio files."""

    spec: CueSpec
    key: str
    files: dict[str, tuple[bytes | Path, str, dict[str, Any]]]
    manifest: dict[str, Any]  # every CueManifest field but ``files``
    audio: RenderedAudio | None = None  # owns the files' scratch folder

    def close(self) -> None:
        if self.audio is not None:
            self.audio.close()

    @property
    def prefix(self) -> str:
        return f"cues/{self.spec.cue_id}/{self.key}"


def stored_manifest(store: ObjectStore, spec: CueSpec, key: str) -> CueManifest | None:
    """The manifest of the cue already in ``store`` under ``key``, else None."""
    where = f"cues/{spec.cue_id}/{key}/manifest.json"
    if not store.exists(where):
        return None
    return read_manifest(store.get_bytes(where), store.uri_for(where))


Stage = Callable[[str], None]  # told "composing", then "rendering", as a cue is made


def make_cue(
    spec: CueSpec, key: str, models: ComposerModels, renderer: CueRenderer, on_stage: Stage | None = None
) -> MadeCue:
    """Compose, measure, render and master ``spec``; draw its piano roll. Nothing is written. ``on_stage`` is told
    when composing and rendering start (what ``cues serve`` reports of a cue in a worker)."""
    clock = time.perf_counter()
    if on_stage:
        on_stage("composing")
    cue = compose_cue(spec.brief, spec.seed, spec.cutdown, models, spec.revision)
    timings = {"compose_s": time.perf_counter() - clock}
    if on_stage:
        on_stage("rendering")
    clock = time.perf_counter()
    quality = measure(cue.score)
    timings["quality_s"] = time.perf_counter() - clock
    audio = renderer.render(audio_request(cue.plan, cue.midi, spec.brief, key, spec.cue_id))
    timings.update(audio.timings)
    _, absent = delivered_stems(spec.brief.delivery.stems, [stem.name for stem in cue.plan.stems])
    clock = time.perf_counter()
    plan = cue.plan.model_dump(mode="json")
    files: dict[str, tuple[bytes | Path, str, dict[str, Any]]] = {
        "plan.json": (json.dumps(plan, indent=2).encode(), "application/json", {}),
        "pianoroll.png": (pianoroll_png(cue.midi, cue.plan), "image/png", {}),
    }
    timings["pianoroll_s"] = time.perf_counter() - clock
    if AudioFormat.midi in spec.brief.delivery.formats:
        files["cue.mid"] = (cue.midi, "audio/midi", {})
    for name, path in audio.paths.items():  # finished files in the render's scratch folder, stored from there
        content_type = CONTENT_TYPES.get(name[name.rfind(".") :], "application/octet-stream")
        files[name] = (path, content_type, audio.file_info.get(name, {}))
    clock = time.perf_counter()
    stingers, stinger_summary = stinger_files(spec, key, renderer)
    files.update(stingers)
    if stingers:
        timings["stingers_s"] = time.perf_counter() - clock
    manifest = {
        "version": MANIFEST_VERSION,
        "cue_id": spec.cue_id,
        "cue_key": key,
        "brief_id": spec.brief_id,
        "variation": spec.variation,
        "cutdown": spec.cutdown,
        "seed": spec.seed,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "length_s": cue.plan.length_s,
        "brief": spec.brief,
        "plan": cue.plan,
        "revision_of": spec.revision.name if spec.revision else None,
        "chords": tuple(cue.score.chords),
        "models": models.versions,
        "composer_version": COMPOSER_VERSION,
        "quality": quality,
        "audio": {**audio.summary, "absent_stems": absent, **({"stingers": stinger_summary} if stingers else {})},
        "timings_s": {name: round(seconds, 3) for name, seconds in timings.items()},
    }
    return MadeCue(spec, key, files, manifest, audio)


def store_cue(store: ObjectStore, cue: MadeCue) -> CueManifest:
    """Write every file of ``cue``, then its manifest (with each file's size and sha256) last, if it is absent:
    :class:`StoreConflict` if another writer stored it first."""
    clock = time.perf_counter()
    entries = {}
    for name, (data, content_type, numbers) in cue.files.items():
        where = f"{cue.prefix}/{name}"
        if isinstance(data, Path):  # streamed (S3: in parts), never read whole into memory
            put = store.put_file(where, data, content_type=content_type)
        else:
            put = store.put_bytes(where, data, content_type=content_type)
        entries[name] = FileEntry(bytes=put.size, sha256=put.sha256, content_type=content_type, **numbers)
    timings = {**cue.manifest["timings_s"], "upload_s": round(time.perf_counter() - clock, 3)}
    manifest = CueManifest.model_validate({**cue.manifest, "timings_s": timings, "files": entries})
    store.put_bytes(f"{cue.prefix}/manifest.json", manifest.to_json(), content_type="application/json", if_absent=True)
    return manifest


def delivered_by_another(store: ObjectStore, cue: MadeCue) -> CueManifest:
    """The manifest another writer stored first for ``cue``'s render key, once its files are known to be ours too.

    Raises :class:`StoreConflict` if that writer's files differ from ours: then both wrote the same keys with
    different bytes, the render key misses something that decides the audio, and the stored files may not match."""
    where = f"{cue.prefix}/manifest.json"
    theirs = read_manifest(store.get_bytes(where), store.uri_for(where))
    differ = sorted(
        name
        for name, (data, _, _) in cue.files.items()
        if name not in theirs.files or theirs.files[name].sha256 != _sha256(data)
    )
    if differ:
        raise StoreConflict(
            f"{store.uri_for(cue.prefix)} was delivered at the same time by another run with different bytes in "
            f"{', '.join(differ)}: the same render key must give the same files, so a worker differs (FluidSynth or "
            "library versions); its files may not match its manifest (`cues get` checks them)"
        )
    return theirs


def _sha256(data: bytes | Path) -> str:
    return sha256_file(data)[0] if isinstance(data, Path) else hashlib.sha256(data).hexdigest()


def retrying(step: Callable[[], T], what: str, delays_s: tuple[float, ...] = STORE_RETRY_DELAYS_S) -> T:
    """``step()``, tried again after each of ``delays_s`` (seconds) while the store is unavailable."""
    for delay in delays_s:
        try:
            return step()
        except StoreUnavailable as err:
            log.warning("%s: %s; trying again in %g s", what, err, delay)
            time.sleep(delay)
    return step()


def deliver_cue(
    store: ObjectStore,
    spec: CueSpec,
    models: ComposerModels,
    renderer: CueRenderer,
    making: AbstractContextManager = nullcontext(),
    on_stage: Stage | None = None,
    retry_delays_s: tuple[float, ...] = STORE_RETRY_DELAYS_S,
) -> CueResult:
    """Compose and render ``spec`` into ``store`` unless its manifest exists (``skipped``, also when another run
    delivers it meanwhile). Raises on failure (the caller reports it), after retries while the store is
    unavailable (waiting ``retry_delays_s`` seconds before each); files already written by a failed attempt are
    overwritten by the next one.

    ``making`` is held while the cue is made, not while it is stored: a worker with several cues in flight passes a
    lock, so its models and synth serve one cue at a time while another uploads."""
    key = render_key(spec, models.versions, renderer.identity_of(spec.brief.mood[0]))
    what = f"storing cue {spec.cue_id}"
    done = retrying(lambda: stored_manifest(store, spec, key), what, retry_delays_s)
    if done:
        return CueResult.delivered(done, skipped=True)
    with making:
        cue = make_cue(spec, key, models, renderer, on_stage)

    def store_once() -> CueResult:
        done = stored_manifest(store, spec, key)  # delivered by another run while this one made it: upload nothing
        if done:
            return CueResult.delivered(done, skipped=True)
        try:
            return CueResult.delivered(store_cue(store, cue))
        except StoreConflict:
            return CueResult.delivered(delivered_by_another(store, cue), skipped=True)

    try:
        return retrying(store_once, what, retry_delays_s)
    finally:
        cue.close()  # the rendered files in the scratch folder, stored or not
