"""``cues plan``: the resolved plan of every cue of some briefs, without composing or rendering; ``cues diff``: two
delivered cues' plans side by side; ``cues moods``: the mood vocabulary a brief plans from.

What a supervisor checks before spending a render: the tempo map, the sections with their bars and times, each hit
asked for against where it lands (MISSED when more than 10 ms away), the stems, the seed, and the plan's notes —
its warnings (a given tempo moved, a hit missed, intensities stretched) first. No models, no Ray, no synth: a
second or two for a batch of briefs.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cues.pipelines.compose.plan import plan_cue
from cues.pipelines.compose.tempo_map import PlanError
from cues.pipelines.generate.brief_sources import read_sources
from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.generate.revision_source import StoreRevisions
from cues.pipelines.store import open_store
from cues.schemas.batch import CueSpec
from cues.schemas.effects import effects_table
from cues.schemas.mood_table import mood_table
from cues.schemas.moods import MOODS, synonyms_of
from cues.schemas.plan import Plan
from cues.services.catalog import find_cue
from cues.services.cli.options import DEFAULT_STORE, Sources, Store
from cues.services.cli.output import EXIT_INVALID, EXIT_STRICT, err, out, print_entries, reported_errors
from cues.services.plan_diff import chords_kept, plan_rows

commands = typer.Typer()


@commands.command()
def plan(
    sources: Sources,
    store: Store = DEFAULT_STORE,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 3 when a plan departs from its brief (a plan warning).")
    ] = False,
) -> None:
    """The plan of every cue of the briefs, without rendering: tempo map, sections (bars, times, intensity),
    hits asked for vs achieved, stems, seed, and the plan's warnings and notes. A revision (revise: <cue-id>) is
    planned from the cue it revises in --store, and says what it changed, kept and adapted.

    Exits 2 if a brief is invalid or cannot be planned; with --strict, 3 if any plan has a warning.

    Example: cues plan briefs/night-chase.yaml --format json
    """
    if output not in {"text", "json"}:
        raise typer.BadParameter("use text or json", param_hint="--format")
    with reported_errors():
        entries = read_sources(sources, StoreRevisions(store))
    invalid = [e for e in entries if not e.ok]
    if invalid:
        print_entries(err, invalid)
    planned: list[tuple[CueSpec, Plan]] = []
    unplannable = 0
    for entry in entries:
        if not entry.ok:
            continue
        for spec in expand_cues(entry.brief, entry.revision):
            try:
                planned.append((spec, plan_cue(spec.brief, spec.seed, spec.cutdown, spec.revision)))
            except PlanError as error:
                err.print(f"cannot plan {spec.cue_id} ({entry.source}): {error}", markup=False)
                unplannable += 1
    if output == "json":
        typer.echo(json.dumps([_record(spec, p) for spec, p in planned], indent=2))
    else:
        for spec, p in planned:
            _print_plan(spec, p)
    if invalid or unplannable:
        raise typer.Exit(EXIT_INVALID)
    if strict and any(p.warnings for _, p in planned):
        raise typer.Exit(EXIT_STRICT)


@commands.command()
def diff(
    a: Annotated[str, typer.Argument(help="A delivered cue: <cue-id> (its newest render) or <cue-id>/<render-key>.")],
    b: Annotated[str, typer.Argument(help="The cue to compare it with, named the same way.")],
    store: Store = DEFAULT_STORE,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
    everything: Annotated[bool, typer.Option("--all", help="Show the rows that are equal too.")] = False,
) -> None:
    """Two delivered cues' plans side by side: key, tempo map, length, sections (bars, times, intensity), hits,
    ensemble, groove, stems, seed and chords — what a revision changed, and what it kept.

    Example: cues diff night-chase night-chase-45s
    """
    if output not in {"text", "json"}:
        raise typer.BadParameter("use text or json", param_hint="--format")
    with reported_errors():
        source = open_store(store, existing=True)
        (first, _), (second, _) = find_cue(source, a), find_cue(source, b)
    ma, mb = first.manifest, second.manifest
    rows = plan_rows(ma.plan, mb.plan, ma.chords, mb.chords)
    kept = chords_kept(ma.chords, mb.chords)
    if output == "json":
        record = {
            "a": f"{first.cue_id}/{first.render_key}",
            "b": f"{second.cue_id}/{second.render_key}",
            "chords_kept": round(kept, 4),
            "rows": [r.as_record() for r in rows],
        }
        typer.echo(json.dumps(record, indent=2))
        return
    table = Table(box=None, pad_edge=False)
    for column in ("", f"{first.cue_id}/{first.render_key}", f"{second.cue_id}/{second.render_key}"):
        table.add_column(escape(column))
    for row in rows:
        if row.changed or everything:
            mark = "[yellow]" if row.changed else ""
            close = "[/yellow]" if row.changed else ""
            table.add_row(f"{mark}{escape(row.aspect)}{close}", escape(row.a), escape(row.b))
    out.print(table)
    changed = sum(r.changed for r in rows)
    out.print(f"{changed} of {len(rows)} aspects differ; {kept:.0%} of the first cue's chords kept in order")


@commands.command()
def moods(
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """The mood vocabulary of briefs: every mood with the synonyms a brief may write for it, its family (which
    effects it uses), its tempo range and its modes.

    Example: cues moods
    """
    if output not in {"text", "json"}:
        raise typer.BadParameter("use text or json", param_hint="--format")
    table, effects = mood_table(), effects_table()
    rows = [
        {
            "mood": mood,
            "synonyms": list(synonyms_of(mood)),
            "family": next(name for name, family in effects.families.items() if mood in family.moods),
            "tempo_bpm": [table[mood].tempo.min, table[mood].tempo.max],
            "modes": [m.value for m in table[mood].modes],
        }
        for mood in MOODS
    ]
    if output == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    listing = Table(box=None, pad_edge=False)
    for column in ("mood", "synonyms", "family", "tempo bpm", "modes"):
        listing.add_column(column)
    for row in rows:
        low, high = row["tempo_bpm"]
        tempo, modes = f"{low:g}–{high:g}", ", ".join(row["modes"])
        listing.add_row(row["mood"], ", ".join(row["synonyms"]), row["family"], tempo, modes)
    out.print(listing)
    out.print("Moods and synonyms are read without regard to case; a brief names one to three, the first dominates.")


def _record(spec: CueSpec, plan: Plan) -> dict:
    return {
        "cue_id": spec.cue_id,
        "brief_id": spec.brief_id,
        "variation": spec.variation,
        "cutdown": spec.cutdown,
        "seed": spec.seed,
        "warnings": list(plan.warnings),
        "missed_hits": [hit.requested_s for hit in plan.hits if not hit.achievable],
        "plan": plan.model_dump(mode="json"),
    }


def _print_plan(spec: CueSpec, plan: Plan) -> None:
    cut = f" (cutdown {spec.cutdown})" if spec.cutdown is not None else ""
    out.print(
        f"[bold]{escape(spec.cue_id)}[/bold]{escape(cut)}  {plan.medium.value}, {escape('/'.join(plan.moods))}, "
        f"{escape(plan.key)}, {plan.meter}, {plan.length_s:.3f} s, {plan.bars} bars, ending {plan.ending.value}, "
        f"seed {spec.seed}"
    )
    tempi = "; ".join(f"{t.bpm:g} bpm from bar {t.bar:g} ({t.start_s:.2f} s)" for t in plan.tempo_map)
    out.print(f"tempo: {escape(tempi)}")
    sections = Table(box=None, pad_edge=False)
    for column in ("section", "bars", "from bar", "time s", "intensity", "roles"):
        sections.add_column(column)
    for s in plan.sections:
        sections.add_row(
            escape(s.label),
            str(s.bars),
            str(s.start_bar + 1),
            f"{s.start_s:.2f}–{s.end_s:.2f}",
            f"{s.intensity:.2f}",
            ", ".join(r.value for r in s.roles),
        )
    out.print(sections)
    if plan.hits:
        hits = Table(box=None, pad_edge=False)
        for column in ("hit s", "lands s", "error ms", "bar.beat", "placement", ""):
            hits.add_column(column)
        for hit in plan.hits:
            hits.add_row(
                f"{hit.requested_s:g}",
                f"{hit.achieved_s:.3f}",
                f"{hit.error_ms:+.1f}",
                f"{hit.bar}.{hit.beat}",
                hit.placement,
                "met" if hit.achievable else "[red]MISSED[/red]",
            )
        out.print(hits)
    stems = ", ".join(f"{s.name} ({s.instrument})" for s in plan.stems)
    out.print(f"stems: {escape(stems)}" + (f"; none in {', '.join(plan.absent_stems)}" if plan.absent_stems else ""))
    for line in plan.revision.lines() if plan.revision else ():
        out.print(f"[cyan]revision:[/cyan] {escape(line)}")
    for warning in plan.warnings:
        out.print(f"[yellow]warning:[/yellow] {escape(warning)}")
    for note in plan.notes:
        if note not in plan.warnings:
            out.print(f"note: {escape(note)}")
    out.print()
