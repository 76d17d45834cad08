"""The composer: a resolved brief and a seed → plan → chords → melody → arrangement → :class:`Score` and MIDI.

``ComposerModels`` loads the three trained models once (from the default bundle shipped in
``pipelines/models/default/`` unless told otherwise); ``compose`` is then a pure function of the plan and the
models, so the same brief, seed and model versions give the same MIDI, byte for byte.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import torch

from cues.pipelines.compose import arrangement, crescendo, drums, effects, orchestration
from cues.pipelines.compose.melody import MelodyModels, write_melody
from cues.pipelines.compose.midi_file import midi_bytes
from cues.pipelines.compose.plan import plan_cue
from cues.pipelines.compose.progression import progression
from cues.pipelines.compose.score import Score
from cues.pipelines.models.bundle import DEFAULT_BUNDLE, load_model, model_exists
from cues.schemas.brief import ResolvedBrief
from cues.schemas.effects import effects_table
from cues.schemas.palettes import Role
from cues.schemas.plan import Plan
from cues.schemas.revision import RevisedCue

log = logging.getLogger(__name__)

MODEL_KINDS = ("melody", "vae", "chords")
CRITIC = "critic"  # optional in a bundle: the phrase critic reranking candidate phrases (compose/rerank.py)
COMPOSER_VERSION = "compose-9"  # bump when the same plan and models would give different notes


@dataclass
class ComposerModels:
    """The melody LSTM (with its chord vocabulary), the phrase VAE and the chord LSTM, in eval mode; and the phrase
    critic when the bundle has one."""

    melody: torch.nn.Module
    chord_vocabulary: list[str]
    vae: torch.nn.Module
    chords: torch.nn.Module
    versions: dict[str, str]
    critic: torch.nn.Module | None = None

    @classmethod
    def load(cls, uri: str | None = None) -> ComposerModels:
        """Models from a folder or store URI holding ``melody/``, ``vae/`` and ``chords/`` model directories
        (each as ``cues train`` writes it), and ``critic/`` if it is there; the shipped default bundle when ``uri``
        is None."""
        base = str(uri or DEFAULT_BUNDLE).rstrip("/")
        kinds = MODEL_KINDS + ((CRITIC,) if model_exists(f"{base}/{CRITIC}") else ())
        loaded = {kind: load_model(f"{base}/{kind}") for kind in kinds}
        return cls(
            melody=loaded["melody"][0],
            chord_vocabulary=list(loaded["melody"][1]["chord_vocabulary"]),
            vae=loaded["vae"][0],
            chords=loaded["chords"][0],
            versions={kind: loaded[kind][1]["version"] for kind in kinds},
            critic=loaded[CRITIC][0] if CRITIC in loaded else None,
        )


def compose(plan: Plan, models: ComposerModels) -> Score:
    """The notes of every part of ``plan``; the score's plan keeps the parts that play and the stems they make
    (``orchestration.delivered``)."""
    slots = progression(plan, models.chords, plan.seed)
    melody_models = MelodyModels(models.melody, models.chord_vocabulary, models.vae, models.critic)
    melody, section_tokens = write_melody(plan, slots, melody_models)
    melody = orchestration.transposed(melody, plan.part(Role.lead).transpose)
    parts = orchestration.orchestrate(plan, slots, melody)
    controls = arrangement.apply_ending(plan, parts, slots)
    accents, accent_steps = arrangement.hit_accents(plan, slots, parts["lead"])
    accents[drums.DRUM_PART] = drums.ending_drums(plan) + drums.hit_drums(plan)
    family = effects_table().of_mood(plan.moods[0])
    fx_notes, fx_ramps = effects.effect_parts(plan, slots, parts["lead"], family)
    pitched = [part.name for part in plan.parts if part.role not in (Role.drums, Role.fx)]  # risers swell alone
    for name, ramp in (crescendo.crescendos(plan, pitched) | fx_ramps).items():
        controls[name] = sorted(controls.get(name, []) + ramp, key=lambda control: control.step)
    for name, notes in (accents | fx_notes).items():
        if name in parts:
            parts[name] = sorted(parts[name] + notes)
    parts = orchestration.fit_registers(plan, parts)
    plan = orchestration.delivered(plan, parts)
    parts = {part.name: parts[part.name] for part in plan.parts}
    return Score(
        plan,
        parts,
        {name: ramp for name, ramp in controls.items() if name in parts},
        accent_steps,
        section_tokens,
        [s.numeral(plan.mode) for s in slots],  # with their colours: V7, IVadd9, iv (borrowed)
        [(s.start, s.end, s.chord.numeral(plan.mode)) for s in slots],  # the chords themselves, as measured
    )


@dataclass(frozen=True)
class ComposedCue:
    plan: Plan
    score: Score
    midi: bytes


def compose_cue(
    brief: ResolvedBrief,
    seed: int,
    cutdown: float | str | None,
    models: ComposerModels,
    revised: RevisedCue | None = None,
) -> ComposedCue:
    """One cue of a resolved brief: its full-length plan, or a cutdown planned from the full cue's plan; a revision
    planned from the cue it revises (``revised``)."""
    score = compose(plan_cue(brief, seed, cutdown, revised), models)
    return ComposedCue(score.plan, score, midi_bytes(score))
