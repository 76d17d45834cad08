"""One cue from its spec into the store: compose, measure, render and master, write every file, then the manifest.

Layout (``docs/contracts/store-layout.md``): ``cues/<cue-id>/<render-key>/`` holds ``cue.mid``, ``plan.json``,
``mix.wav`` (``mix.flac``), ``preview.mp3``, ``stems/<stem>.wav`` and ``pianoroll.png``, and ``manifest.json``
written last, so a folder without ``manifest.json`` is never a result, and a cue whose manifest exists is skipped.
The render key hashes everything that decides the cue's content: the resolved brief, seed, cutdown, the models'
versions, the composer's version, and the renderer's identity (its version, the soundfont's sha256 and the synth
settings).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.quality import measure
from cues.pipelines.generate.cue_spec import CueSpec
from cues.pipelines.render.cue_renderer import AudioRequest, CueRenderer
from cues.pipelines.render.midi_events import StemRoute
from cues.pipelines.report.pianoroll import pianoroll_png
from cues.pipelines.store import ObjectStore
from cues.schemas.brief import Brief, canonical_hash
from cues.schemas.plan import Plan

COMPOSER_VERSION = "compose-1"  # bump when the same plan and models would give different notes


@dataclass(frozen=True)
class CueResult:
    """What became of one cue: written now, found already written (``skipped``), or failed with a message."""

    cue_id: str
    key: str
    prefix: str
    ok: bool
    skipped: bool = False
    error: str | None = None
    length_s: float | None = None
    quality: dict | None = None
    audio: dict | None = None  # loudness, true peak, limiter, samples (see ``_audio_digest``)

    def as_dict(self) -> dict:
        return self.__dict__.copy()


CONTENT_TYPES = {".wav": "audio/wav", ".flac": "audio/flac", ".mp3": "audio/mpeg", ".mid": "audio/midi"}


def cue_key(spec: CueSpec, model_versions: dict[str, str], renderer: dict) -> str:
    """The render key: a hash of everything that decides the cue's files (``renderer`` = ``CueRenderer.identity``)."""
    identity = {"cue": spec.content_hash(), "models": model_versions, "code": COMPOSER_VERSION, "render": renderer}
    return "k-" + canonical_hash(identity)[:12]


def audio_request(plan: Plan, midi: bytes, brief: Brief, key: str) -> AudioRequest:
    """What the renderer needs for a composed cue: its stems' channels, length, ending and delivery."""
    _, steps, _, duration_us = plan.tempo_map_us[-1]
    last_bar_s = plan.steps_per_bar * duration_us / steps / 1e6
    return AudioRequest(
        midi=midi,
        stems=tuple(StemRoute(stem.name, stem.channel) for stem in plan.stems),
        length_s=plan.length_s,
        ending=plan.ending,
        delivery=brief.resolve_defaults().delivery,
        fade_s=last_bar_s,
        title=plan.brief_id,
        reference=key,
        seed=plan.seed,
    )


@dataclass(frozen=True)
class MadeCue:
    """A composed and rendered cue in memory: its files (name → bytes, content type) and its manifest, which still
    lacks the files' sizes and hashes (``store_cue`` adds them as it writes)."""

    spec: CueSpec
    key: str
    files: dict[str, tuple[bytes, str]]
    manifest: dict

    @property
    def prefix(self) -> str:
        return f"cues/{self.spec.cue_id}/{self.key}"


def stored_result(store: ObjectStore, spec: CueSpec, key: str) -> CueResult | None:
    """The result of a cue already in ``store`` (its manifest exists), else None."""
    prefix = f"cues/{spec.cue_id}/{key}"
    if not store.exists(f"{prefix}/manifest.json"):
        return None
    manifest = json.loads(store.get_bytes(f"{prefix}/manifest.json"))
    return CueResult(
        spec.cue_id,
        key,
        prefix,
        ok=True,
        skipped=True,
        length_s=manifest["length_s"],
        quality=manifest["quality"],
        audio=_audio_digest(manifest),
    )


def make_cue(spec: CueSpec, key: str, models: ComposerModels, renderer: CueRenderer) -> MadeCue:
    """Compose, measure, render and master ``spec``; draw its piano roll. Nothing is written."""
    clock = time.perf_counter()
    brief = Brief.model_validate(spec.brief)
    cue = compose_cue(brief, spec.seed, spec.cutdown, models)
    timings = {"compose_s": time.perf_counter() - clock}
    clock = time.perf_counter()
    quality = measure(cue.score)
    timings["quality_s"] = time.perf_counter() - clock
    audio = renderer.render(audio_request(cue.plan, cue.midi, brief, key))
    timings.update(audio.timings)
    clock = time.perf_counter()
    plan = cue.plan.model_dump(mode="json")
    files = {
        "cue.mid": (cue.midi, "audio/midi"),
        "plan.json": (json.dumps(plan, indent=2).encode(), "application/json"),
        "pianoroll.png": (pianoroll_png(cue.midi, plan), "image/png"),
    }
    timings["pianoroll_s"] = time.perf_counter() - clock
    for name, data in audio.files.items():
        files[name] = (data, CONTENT_TYPES.get(name[name.rfind(".") :], "application/octet-stream"))
    manifest = {
        "cue_id": spec.cue_id,
        "cue_key": key,
        "brief_id": spec.brief_id,
        "variation": spec.variation,
        "cutdown": spec.cutdown,
        "seed": spec.seed,
        "stage": "rendered",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "length_s": cue.plan.length_s,
        "brief": spec.brief,
        "plan": plan,
        "chords": cue.score.chords,
        "models": models.versions,
        "composer_version": COMPOSER_VERSION,
        "quality": quality,
        "audio": audio.summary,
        "timings_s": {name: round(seconds, 3) for name, seconds in timings.items()},
        "files": {name: dict(audio.file_info.get(name, {})) for name in files},
    }
    return MadeCue(spec, key, files, manifest)


def store_cue(store: ObjectStore, cue: MadeCue) -> CueResult:
    """Write every file of ``cue``, then its manifest (with each file's size and sha256) last."""
    manifest = {**cue.manifest, "files": {name: dict(info) for name, info in cue.manifest["files"].items()}}
    clock = time.perf_counter()
    for name, (data, content_type) in cue.files.items():
        put = store.put_bytes(f"{cue.prefix}/{name}", data, content_type=content_type)
        manifest["files"][name] = {"bytes": put.size, "sha256": put.sha256, **manifest["files"][name]}
    manifest["timings_s"] = {**manifest["timings_s"], "upload_s": round(time.perf_counter() - clock, 3)}
    body = json.dumps(manifest, indent=2).encode()
    store.put_bytes(f"{cue.prefix}/manifest.json", body, content_type="application/json")
    return CueResult(
        cue.spec.cue_id,
        cue.key,
        cue.prefix,
        ok=True,
        length_s=manifest["length_s"],
        quality=manifest["quality"],
        audio=_audio_digest(manifest),
    )


def write_cue(
    store: ObjectStore,
    spec: CueSpec,
    models: ComposerModels,
    renderer: CueRenderer,
    making: AbstractContextManager = nullcontext(),
) -> CueResult:
    """Compose and render ``spec`` into ``store`` unless its manifest exists. Raises on failure (the caller
    reports it); files already written by a failed attempt are overwritten by the next one.

    ``making`` is held while the cue is composed and rendered, not while it is stored: a worker with several cues
    in flight passes a lock, so its models and synth serve one cue at a time while another uploads."""
    key = cue_key(spec, models.versions, renderer.identity)
    done = stored_result(store, spec, key)
    if done:
        return done
    with making:
        cue = make_cue(spec, key, models, renderer)
    return store_cue(store, cue)


def _audio_digest(manifest: dict) -> dict | None:
    """The few audio numbers a batch summary shows, from a manifest."""
    audio = manifest.get("audio")
    if not audio:
        return None
    mix = manifest["files"].get("mix.wav") or manifest["files"].get("mix.flac") or {}
    return {
        "duration_s": audio["duration_s"],
        "loudness_lufs": mix.get("loudness_lufs"),
        "true_peak_dbtp": mix.get("true_peak_dbtp"),
        "limited": audio["limiter"]["engaged"],
        "silent_stems": audio["silent_stems"],
    }
