"""Orchestration by intensity: each part written for the cue, kept in the sections whose intensity calls for its role
(``Section.roles``, decided by the plan), in its instrument's register; and the stems a cue delivers.

Pure functions of the plan, the chord slots and the melody. Decisions where the issue is silent:

- **Layers change at section boundaries** (sections are phrase-aligned): a part's notes are kept where they start in
  a section its role plays in, and cut at the end of that section when the next one does not have it. The melody
  (the lead) plays throughout; what an ending or a hit adds (the final chord, the accents) sounds whatever the
  section's roles.
- **Dynamics**: every accompanying part's velocity follows the section's intensity (``arrangement.velocity``) with
  a scale per role (``LEVEL_SCALE``): the pad and the figure under the counter, the bass near the lead.
- **Registers**: a part's notes outside its register (``Part.low``–``Part.high``) are folded in by octaves, which
  keeps the clash rules (they depend on pitch classes only); two notes folded onto one pitch at one time become one.
- **Stems**: a part without a single note is dropped from the plan, and a stem group none of whose parts has notes
  is not delivered but listed in ``Plan.absent_stems`` (no silent files).
"""

from __future__ import annotations

from functools import partial

from cues.pipelines.compose import arrangement, bass_line, counter_line, drums, figures
from cues.pipelines.compose.ensemble import stems_of
from cues.pipelines.compose.progression import Slot
from cues.pipelines.compose.score import Note
from cues.schemas.palettes import Role
from cues.schemas.plan import Plan

LEVEL_SCALE = {Role.counter: 0.78, Role.figure: 0.72}  # × the mood's velocity (pad 0.8 and bass 0.9: arrangement)


def orchestrate(plan: Plan, slots: list[Slot], melody: list[Note]) -> dict[str, list[Note]]:
    """The notes of every part of ``plan``, keyed by part name, each kept in the sections its role plays in."""
    parts = {}
    for part in plan.parts:
        level_of = partial(arrangement.velocity, plan, scale=LEVEL_SCALE.get(part.role, 1.0))
        if part.role == Role.lead:
            parts[part.name] = list(melody)
            continue
        if part.role == Role.pad:
            notes = arrangement.pad_part(plan, slots, melody)
        elif part.role == Role.figure:
            notes = figures.figure_part(plan, slots, melody, part, level_of)
        elif part.role == Role.counter:
            notes = counter_line.counter_part(plan, slots, melody, part, level_of)
        elif part.role == Role.bass:
            notes = bass_line.bass_part(plan, slots, melody, part)
        elif part.role == Role.drums:
            notes = drums.percussion_part(plan)
        else:
            notes = []  # effects play only what the hits add
        parts[part.name] = in_sections(plan, part.role, notes)
    return parts


def in_sections(plan: Plan, role: Role, notes: list[Note]) -> list[Note]:
    """The ``notes`` that start in a section where ``role`` plays, cut at the end of a section the next of which
    does not have it."""
    bar = plan.steps_per_bar
    plays = [role in s.roles for s in plan.sections]
    bounds = [(s.start_bar * bar, (s.start_bar + s.bars) * bar) for s in plan.sections]
    kept = []
    for note in notes:
        index = next(i for i, (start, end) in enumerate(bounds) if start <= note.start < end)
        if not plays[index]:
            continue
        last = index
        while last + 1 < len(plays) and plays[last + 1]:
            last += 1
        end = bounds[last][1]
        kept.append(note if note.end <= end else Note(note.start, end, note.pitch, note.velocity))
    return kept


def transposed(notes: list[Note], semitones: int) -> list[Note]:
    """``notes`` moved by ``semitones``."""
    return [Note(n.start, n.end, n.pitch + semitones, n.velocity) for n in notes] if semitones else list(notes)


def fit_registers(plan: Plan, parts: dict[str, list[Note]]) -> dict[str, list[Note]]:
    """Every pitched part's notes folded by octaves into its register (module docstring)."""
    fitted = {}
    for part in plan.parts:
        notes = parts[part.name]
        if part.role == Role.drums:
            fitted[part.name] = notes
            continue
        seen: dict[tuple[int, int], Note] = {}
        for note in notes:
            pitch = fold(note.pitch, part.low, part.high)
            key = (note.start, pitch)
            if key not in seen or note.end > seen[key].end:
                seen[key] = Note(note.start, note.end, pitch, note.velocity)
        fitted[part.name] = sorted(seen.values())
    return fitted


def fold(pitch: int, low: int, high: int) -> int:
    """``pitch`` moved by octaves into ``low``–``high`` (at least an octave wide)."""
    while pitch < low:
        pitch += 12
    while pitch > high:
        pitch -= 12
    return pitch


def delivered(plan: Plan, parts: dict[str, list[Note]]) -> Plan:
    """``plan`` with only the parts that have notes, and the stems (and absent stems) they make."""
    sounding = tuple(p for p in plan.parts if parts.get(p.name))
    stems, absent = stems_of(sounding)
    return plan.model_copy(update={"parts": sounding, "stems": stems, "absent_stems": absent})
