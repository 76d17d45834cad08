"""Two cues' plans side by side, at the level a supervisor reviews a revision: key, tempo map, length, form and
sections, hits, ensemble and groove, chords, seed. Pure: plans and chord lists in, rows out (``cues diff``)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from cues.schemas.plan import Plan


@dataclass(frozen=True)
class PlanRow:
    """One aspect of the two plans, in words, and whether it differs."""

    aspect: str
    a: str
    b: str

    @property
    def changed(self) -> bool:
        return self.a != self.b

    def as_record(self) -> dict:
        return {"aspect": self.aspect, "a": self.a, "b": self.b, "changed": self.changed}


def plan_rows(a: Plan, b: Plan, chords_a: tuple[str, ...] = (), chords_b: tuple[str, ...] = ()) -> list[PlanRow]:
    """The rows of ``cues diff``: every aspect of the two plans, section by section and hit by hit."""
    rows = [
        PlanRow("moods", "/".join(a.moods), "/".join(b.moods)),
        PlanRow("key", a.key, b.key),
        PlanRow("meter", a.meter, b.meter),
        PlanRow("length", f"{a.length_s:.3f} s, {a.bars} bars", f"{b.length_s:.3f} s, {b.bars} bars"),
        PlanRow("tempo map", _tempo_map(a), _tempo_map(b)),
        PlanRow("ending", a.ending.value, b.ending.value),
        PlanRow("form", "-".join(s.label for s in a.sections), "-".join(s.label for s in b.sections)),
    ]
    for index in range(max(len(a.sections), len(b.sections))):
        rows.append(
            PlanRow(f"section {index + 1}", _section(a, index), _section(b, index)),
        )
    requested = sorted({h.requested_s for h in a.hits} | {h.requested_s for h in b.hits})
    for time in requested:
        rows.append(PlanRow(f"hit {time:g} s", _hit(a, time), _hit(b, time)))
    rows += [
        PlanRow("ensemble", a.ensemble or "the brief's instruments", b.ensemble or "the brief's instruments"),
        PlanRow("groove", a.groove.value, b.groove.value),
        PlanRow("stems", ", ".join(s.name for s in a.stems), ", ".join(s.name for s in b.stems)),
        PlanRow("seed", str(a.seed), str(b.seed)),
        PlanRow("motif seed", str(a.motif_seed), str(b.motif_seed)),
    ]
    if chords_a or chords_b:
        rows.append(PlanRow("chords", " ".join(chords_a), " ".join(chords_b)))
    return rows


def chords_kept(chords_a: tuple[str, ...], chords_b: tuple[str, ...]) -> float:
    """Share (0–1) of the chords of ``a`` that ``b`` plays in the same order (longest matching blocks)."""
    if not chords_a:
        return 1.0 if not chords_b else 0.0
    matcher = difflib.SequenceMatcher(a=list(chords_a), b=list(chords_b), autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / len(chords_a)


def _tempo_map(plan: Plan) -> str:
    return "; ".join(f"{t.bpm:g} bpm from bar {t.bar:g}" for t in plan.tempo_map)


def _section(plan: Plan, index: int) -> str:
    if index >= len(plan.sections):
        return "—"
    s = plan.sections[index]
    last = s.start_bar + s.bars
    return f"{s.label}: bars {s.start_bar + 1}–{last}, {s.start_s:.2f}–{s.end_s:.2f} s, intensity {s.intensity:.2f}"


def _hit(plan: Plan, time: float) -> str:
    hit = next((h for h in plan.hits if h.requested_s == time), None)
    if hit is None:
        return "—"
    missed = "" if hit.achievable else ", MISSED"
    return f"at {hit.achieved_s:.3f} s ({hit.error_ms:+.1f} ms), bar {hit.bar} beat {hit.beat}{missed}"
