"""Benchmark of revisions (issue 18): how much of a cue's music a revision keeps.

Composes a few briefs with the shipped models, then revisions of each (length-only, hits-only, one section's
intensity raised, length 60 → 45 s with B raised, tempo, mood), through the job's own path (``revision_fields`` and
``compose_cue`` with the revised cue), and measures each pair with ``services/plan_diff.py``: the share of the
revised cue's chords the revision plays in the same order (``chords_kept``), the plan rows that differ, and whether
the motifs are kept (the same motif seed, and the first ``A`` section's opening two bars of melody note for note).
Prints one row per revision, the plan diff of night-chase 60 → 45 s with B raised (the issue's closing note), and
writes ``bench/results/revision.json``.

    python bench/revision.py [--models DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from cues.pipelines.compose.composer import ComposedCue, ComposerModels, compose_cue
from cues.schemas.brief import Brief
from cues.schemas.brief_file import parse_brief
from cues.schemas.revision import RevisedCue, revision_fields
from cues.services.plan_diff import chords_kept, plan_rows

BRIEFS = {
    "night-chase": {"medium": "film", "mood": ["tense", "action"], "length": 60, "key": "D minor",
                    "form": "intro-A-A'-B-outro", "hits": [12.0, 41.5]},
    "sunrise-coffee": {"medium": "ad", "mood": "happy", "length": 60},
    "forest-loop": {"medium": "game", "mood": "mysterious", "length": 40},
}  # fmt: skip
KEPT = ("seed", "key", "ensemble", "groove")
SHOWN = ("night-chase", "45 s, B raised")
REVISIONS = {
    "length 45": {"length": 45},
    "length 75": {"length": 75},
    "hits only": {"hits": [20.0, 33.3]},
    "B raised": {"intensity": "raise B"},
    "45 s, B raised": {"length": 45, "intensity": "raise B"},
    "tempo +8": {"tempo": "+8"},
    "mood": {"mood": "calm"},
}


def revised_brief(cue: ComposedCue, brief, name: str, change: dict) -> Brief:
    """The revision ``change`` of ``cue`` as a brief, as the brief reader makes it (``raise B``: B's intensity + 0.3,
    the others as planned; ``+8``: 8 bpm over the planned tempo)."""
    change = dict(change)
    if change.get("intensity") == "raise B":
        change["intensity"] = [min(1.0, s.intensity + (0.3 if s.name == "B" else 0.0)) for s in cue.plan.sections]
    if change.get("tempo") == "+8":
        change["tempo"] = round(cue.plan.tempo_bpm + 8)
    revised = RevisedCue(cue_id=brief.id, render_key="k-000000000000", brief=brief, plan=cue.plan)
    return parse_brief({**revision_fields(revised, {"revise": brief.id, **change}), "id": f"{name}-r1"}), revised


def opening(cue: ComposedCue) -> list[tuple[int, int]]:
    """The lead's notes (start step relative to the section, pitch) in the first two bars of the first A."""
    section = next((s for s in cue.plan.sections if s.name == "A"), cue.plan.sections[0])
    start = section.start_bar * cue.plan.steps_per_bar
    end = start + 2 * cue.plan.steps_per_bar
    return [(n.start - start, n.pitch) for n in cue.score.parts["lead"] if start <= n.start < end]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)  # batch-1 model steps: threads cost more than they give
    models = ComposerModels.load(args.models)
    rows = []
    for name, fields in BRIEFS.items():
        brief = Brief.model_validate({"id": name, **fields}).resolve()
        cue = compose_cue(brief, brief.seed, None, models)
        for label, change in REVISIONS.items():
            revision, revised = revised_brief(cue, brief, name, change)
            resolved = revision.resolve()
            clock = time.process_time()
            new = compose_cue(resolved, cue.plan.seed, None, models, revised)
            cpu = time.process_time() - clock
            differ = [r.aspect for r in plan_rows(cue.plan, new.plan) if r.changed]
            row = {
                "brief": name,
                "revision": label,
                "chords_kept": round(chords_kept(tuple(cue.score.chords), tuple(new.score.chords)), 3),
                "motif_seed_kept": cue.plan.motif_seed == new.plan.motif_seed,
                "opening_kept": opening(cue) == opening(new),
                "kept": {k: getattr(cue.plan, k) == getattr(new.plan, k) for k in KEPT},
                "form": "-".join(f"{s.label}{s.bars}" for s in new.plan.sections),
                "differ": differ,
                "adapted": list(new.plan.revision.adapted),
                "compose_cpu_s": round(cpu, 3),
                "length_s": round(new.plan.length_s, 2),
            }
            rows.append(row)
            kept = ",".join(k for k, v in row["kept"].items() if v)
            print(
                f"{name:15} {label:15} chords {row['chords_kept']:.2f}  motif {row['motif_seed_kept']!s:5} "
                f"opening {row['opening_kept']!s:5} kept {kept:28} {row['form']:28} {cpu:.2f} s"
            )
            if (name, label) == SHOWN:  # the closing note: a revision's plan diff
                shown = plan_rows(cue.plan, new.plan, tuple(cue.score.chords), tuple(new.score.chords))
                diff = [f"  {r.aspect}: {r.a}  →  {r.b}" for r in shown if r.changed and r.aspect != "chords"]
                print("\n".join(diff + [f"  revision: {line}" for line in new.plan.revision.lines()]))
    out = Path(__file__).parent / "results" / "revision.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
