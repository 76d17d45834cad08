"""What a revision keeps of the cue it revises: its tempo, its form with each section's bars (re-fitted to a new
length), its sections' intensities; and the plan's account of it (:class:`~cues.schemas.plan.Revision`).

Pure functions of the revised cue's plan and the revision's brief. The rest is kept by the seeds: a revision has the
revised cue's seed, so its motifs (``motif_seed``), ensemble and groove are the same while the moods and instruments
are; and chords are seeded per section letter (``progression.py``), so a section that keeps its letter, bars and
intensity and gets no new hit keeps its chords.

Decisions where the contract is silent:

- The tempo: the revised plan's mean tempo is the preferred one, within 8 % (as a brief's own tempo), unless the
  revision gives a tempo or other moods (a mood brings its tempo). With the length, tempo and meter unchanged, the
  cue keeps its number of bars, so new hits are landed by bending the tempo around them, not by another bar count.
- A new length at the kept tempo is met in whole phrases where the tempo allows (``kept_bars``): 4 bars within 4 %
  of it, else 2 bars within 8 %; a length the bars cannot meet so is left to the tempo solver.
- Re-fitting to a new number of bars keeps the first section (the opening) and the last (the cadence) whole and
  takes bars from, or adds bars to, the inner sections: whole phrases first (4 bars, then 2, then 1), from the
  longest inner section (the later of equals), added to the shortest; each section keeps 2 bars while another can
  give. Only when the inner sections cannot give do the outer ones, and only when the cue has fewer bars than
  sections is a section dropped (the last inner one).
"""

from __future__ import annotations

import math

from cues.schemas.brief import ResolvedBrief
from cues.schemas.form import FormSection
from cues.schemas.plan import Plan, Revision
from cues.schemas.revision import RevisedCue, brief_changes

PHRASE_UNITS = (4, 2, 1)  # bars taken or added at a time: whole phrases first
PHRASE_TEMPO_SLACK = 1.04  # a new length is met in whole 4-bar phrases if the kept tempo moves at most this much (×, ÷)
PAIR_TEMPO_SLACK = 1.08  # else in 2-bar phrases within 8 % (the band of a brief's own tempo)
KEEP_BARS = 2  # a section keeps at least this many bars while another section can give


def kept_tempo(brief: ResolvedBrief, revised: RevisedCue) -> float | None:
    """The revised cue's mean tempo, when the revision keeps it (same meter and moods, no tempo of its own); else
    None (a new mood brings its own tempo)."""
    same = brief.meter == revised.brief.meter and tuple(brief.mood) == tuple(revised.brief.mood)
    if not same or brief.tempo != revised.brief.tempo:
        return None
    return revised.plan.tempo_bpm


def kept_bars(brief: ResolvedBrief, revised: RevisedCue, length_s: float) -> int | None:
    """The number of bars of a revision that keeps the tempo: the revised cue's when the length is kept too; for a
    new length of ``length_s`` seconds, the nearest whole number of 4-bar phrases whose tempo stays within
    ``PHRASE_TEMPO_SLACK`` of the kept one, else of 2-bar phrases within ``PAIR_TEMPO_SLACK`` (so inner phrases are
    dropped or repeated whole); None when the tempo is not kept, or no such count is near."""
    tempo = kept_tempo(brief, revised)
    if tempo is None:
        return None
    if brief.length.to_brief() == (revised.plan.cutdown or revised.brief.length.to_brief()):
        return revised.plan.bars
    if brief.length.bars is not None:
        return None  # the brief says how many bars
    beats = brief.meter.beats_per_bar
    exact = length_s * tempo / 60 / beats
    for unit, slack in ((4, PHRASE_TEMPO_SLACK), (2, PAIR_TEMPO_SLACK)):
        counts = {max(unit, math.floor(exact / unit) * unit), max(unit, math.ceil(exact / unit) * unit)}
        for bars in sorted(counts, key=lambda b: abs(b - exact)):
            if 1 / slack <= bars * beats * 60 / length_s / tempo <= slack:
                return bars
    return None


def refitted_form(revised: Plan, bars: int) -> tuple[tuple[FormSection, ...], list[str]]:
    """The revised plan's sections with their bars, re-fitted to ``bars`` (see the module docstring), and what the
    re-fit changed, in words."""
    sections = [FormSection(s.name, s.primes, s.bars) for s in revised.sections]
    adapted = []
    while len(sections) > max(1, bars):  # fewer bars than sections: the last inner section goes
        gone = sections.pop(len(sections) - 2 if len(sections) > 2 else len(sections) - 1)
        adapted.append(f"{gone.label} dropped: the cue has only {bars} bars")
    counts = [s.bars for s in sections]
    inner = list(range(1, len(counts) - 1)) or list(range(len(counts)))
    outer = [i for i in range(len(counts)) if i not in inner]
    while sum(counts) != bars:
        need = bars - sum(counts)
        index, unit = _grow(counts, inner, need) if need > 0 else _shrink(counts, inner, outer, -need)
        counts[index] += unit if need > 0 else -unit
    for old, new in zip(sections, counts, strict=True):
        if old.bars != new:
            how = "phrases repeated" if new > old.bars else "inner phrases dropped"
            adapted.append(f"{old.label} {old.bars} → {new} bars ({how}) to fit {bars} bars")
    return tuple(FormSection(s.name, s.primes, n) for s, n in zip(sections, counts, strict=True)), adapted


def _grow(counts: list[int], inner: list[int], need: int) -> tuple[int, int]:
    unit = next(u for u in PHRASE_UNITS if u <= need)
    return min(inner, key=lambda i: (counts[i], -i)), unit


def _shrink(counts: list[int], inner: list[int], outer: list[int], need: int) -> tuple[int, int]:
    for pool, least in ((inner, KEEP_BARS), (outer, KEEP_BARS), (inner + outer, 1)):
        for unit in (u for u in PHRASE_UNITS if u <= need):
            able = [i for i in pool if counts[i] - unit >= least]
            if able:
                return max(able, key=lambda i: (counts[i], i)), unit
    raise ValueError(f"cannot take {need} bars from sections of {counts} bars")  # unreachable: bars ≥ sections


def revision_record(plan: Plan, brief: ResolvedBrief, revised: RevisedCue, refit: list[str]) -> Revision:
    """The plan's account of a revision: what the brief changed, what the plan kept of ``revised``, what it had to
    change (``refit``: the sections re-fitted)."""
    old = revised.plan
    kept, adapted = [], list(refit)
    _compare(kept, adapted, "seed", old.seed, plan.seed)
    _compare(kept, adapted, "motifs (motif seed)", old.motif_seed, plan.motif_seed)
    _compare(kept, adapted, "key", old.key, plan.key)
    old_form, new_form = _form(old), _form(plan)
    _compare(kept, adapted, "form", old_form, new_form)
    same = [s.label for s in plan.sections if _same_section(old, s)]
    if same:
        kept.append("sections with their bars and intensity (their chords, where no new hit falls): " + ", ".join(same))
    _compare(kept, adapted, "ensemble", _ensemble(old), _ensemble(plan))
    _compare(kept, adapted, "groove", old.groove.value, plan.groove.value)
    if abs(old.tempo_bpm - plan.tempo_bpm) <= 0.05 and _bpms(old) == _bpms(plan):
        kept.append(f"tempo {plan.tempo_bpm:g} bpm")
    elif abs(old.tempo_bpm - plan.tempo_bpm) <= 0.05:  # the same bars and length: the map bends around new hits
        adapted.append(f"tempo map {_bpms(old)} → {_bpms(plan)} bpm {_tempo_reason(brief, revised)}")
    else:
        adapted.append(f"tempo {old.tempo_bpm:g} → {plan.tempo_bpm:g} bpm {_tempo_reason(brief, revised)}")
    return Revision(
        of=revised.cue_id,
        render_key=revised.render_key,
        changed=tuple(brief_changes(revised, brief)),
        kept=tuple(kept),
        adapted=tuple(adapted),
    )


def _compare(kept: list[str], adapted: list[str], what: str, old: object, new: object) -> None:
    if old == new:
        kept.append(f"{what} {new}")
    else:
        adapted.append(f"{what} {old} → {new}")


def _bpms(plan: Plan) -> str:
    return " / ".join(f"{t.bpm:g}" for t in plan.tempo_map)


def _ensemble(plan: Plan) -> str:
    return plan.ensemble or "the brief's instruments"


def _form(plan: Plan) -> str:
    return "-".join(s.label for s in plan.sections)


def _same_section(old: Plan, section) -> bool:
    return any(
        s.label == section.label and s.bars == section.bars and abs(s.intensity - section.intensity) < 1e-6
        for s in old.sections
    )


def _tempo_reason(brief: ResolvedBrief, revised: RevisedCue) -> str:
    if brief.tempo != revised.brief.tempo:
        return "as the brief asks"
    if tuple(brief.mood) != tuple(revised.brief.mood):
        return "for the new mood"
    if tuple(brief.hits) != tuple(revised.brief.hits):
        return "to land the hits"
    return "to fit the new length in whole bars"
