"""One cue from its spec into the store: compose, measure, write ``cue.mid`` and ``plan.json``, then the manifest.

Layout (``shared/specs/store-layout.md``): ``cues/<cue-id>/<cue-key>/`` with the manifest written last, so a
folder without ``manifest.json`` is never a result, and a cue whose manifest exists is skipped. The cue key hashes
everything that decides the cue's content: the resolved brief, seed, cutdown, the models' versions and the
composer's version (the renderer, when it lands, adds the soundfont and its own version).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from pipelines.compose.composer import ComposerModels, compose_cue
from pipelines.compose.quality import measure
from pipelines.generate.cue_spec import CueSpec
from schemas.brief import Brief, canonical_hash
from services.store import ObjectStore

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

    def as_dict(self) -> dict:
        return self.__dict__.copy()


def cue_key(spec: CueSpec, model_versions: dict[str, str]) -> str:
    return "k-" + canonical_hash({"cue": spec.content_hash(), "models": model_versions, "code": COMPOSER_VERSION})[:12]


def write_cue(store: ObjectStore, spec: CueSpec, models: ComposerModels) -> CueResult:
    """Compose ``spec`` into ``store`` unless its manifest exists. Raises on failure (the caller reports it)."""
    key = cue_key(spec, models.versions)
    prefix = f"cues/{spec.cue_id}/{key}"
    if store.exists(f"{prefix}/manifest.json"):
        manifest = json.loads(store.get_bytes(f"{prefix}/manifest.json"))
        return CueResult(spec.cue_id, key, prefix, True, True, None, manifest["length_s"], manifest["quality"])
    brief = Brief.model_validate(spec.brief)
    cue = compose_cue(brief, spec.seed, spec.cutdown, models)
    quality = measure(cue.score)
    plan_json = json.dumps(cue.plan.model_dump(mode="json"), indent=2).encode()
    files = {
        "cue.mid": store.put_bytes(f"{prefix}/cue.mid", cue.midi, content_type="audio/midi"),
        "plan.json": store.put_bytes(f"{prefix}/plan.json", plan_json, content_type="application/json"),
    }
    manifest = {
        "cue_id": spec.cue_id,
        "cue_key": key,
        "brief_id": spec.brief_id,
        "variation": spec.variation,
        "cutdown": spec.cutdown,
        "seed": spec.seed,
        "stage": "symbolic",  # audio files come with the renderer
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "length_s": cue.plan.length_s,
        "brief": spec.brief,
        "plan": cue.plan.model_dump(mode="json"),
        "chords": cue.score.chords,
        "models": models.versions,
        "composer_version": COMPOSER_VERSION,
        "quality": quality,
        "files": {name: {"bytes": put.size, "sha256": put.sha256} for name, put in files.items()},
    }
    store.put_bytes(f"{prefix}/manifest.json", json.dumps(manifest, indent=2).encode(), content_type="application/json")
    return CueResult(spec.cue_id, key, prefix, True, False, None, cue.plan.length_s, quality)
