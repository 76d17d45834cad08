"""``cues ls``, ``show``, ``get``, ``url`` and ``report``: finding and fetching delivered cues in a store.

They work the same on a local and an S3 store (``cues.services.catalog`` does the work). They only read: a local
store that is not there is an error, not an empty store. A cue whose manifest is damaged is named in a warning on
stderr and left out of listings. Text from the store is printed without its control characters (ESC, BEL, NUL, C1):
a manifest must not be able to drive the terminal.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from cues.pipelines.generate.batch_outputs import cue_manifests, write_report
from cues.pipelines.store import ObjectStore, open_store
from cues.schemas.errors import InvalidRequest, StoreError
from cues.schemas.manifest import CueManifest
from cues.services.catalog import (
    FORMAT_SUFFIX,
    DeliveredCue,
    batch_summary,
    fetch,
    file_url,
    find_cue,
    list_batches,
    read_batch,
    select_files,
)
from cues.services.catalog import list_cues as find
from cues.services.cli.options import DEFAULT_STORE, Store
from cues.services.cli.output import err, out, reported_errors
from cues.services.reviews import entries_of, state_of

commands = typer.Typer()

CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0, DEL and C1: ESC, CSI and BEL can drive a terminal

CueName = Annotated[
    str, typer.Argument(help="A cue id (its newest render) or <cue-id>/<render-key>, as `cues ls` shows.")
]


@commands.command("ls")
def list_cues(
    store: Store = DEFAULT_STORE,
    batch: Annotated[str | None, typer.Option(help="Only the cues of this batch id.", show_default=False)] = None,
    medium: Annotated[str | None, typer.Option(help="Only cues of this medium.", show_default=False)] = None,
    mood: Annotated[str | None, typer.Option(help="Only cues with this mood.", show_default=False)] = None,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """List the delivered cues in a store (a cue folder without its manifest is never listed).

    Example: cues ls --store s3://acme-music/cues --medium ad --mood happy
    """

    with reported_errors():
        source = open_store(store, existing=True)
        cues = find(source, batch=batch, medium=medium, mood=mood, on_unreadable=_skipped)
        if output == "json":  # the review costs a read per cue: only where it is shown
            rows = [{**c.summary(), "review": _review_state(source, c)} for c in cues]
            typer.echo(json.dumps(rows, indent=2))
            return
    rows = [c.summary() for c in cues]
    table = Table(box=None, pad_edge=False)
    for column in ("cue", "render key", "medium", "mood", "key", "bpm", "length", "LUFS", "created"):
        table.add_column(column)
    for r in rows:
        table.add_row(
            _text(r["cue_id"]),
            _text(r["render_key"]),
            _text(r["medium"] or ""),
            _text(r["mood"]),
            _text(r["key"] or ""),
            f"{r['tempo_bpm']:.0f}" if r["tempo_bpm"] else "",
            f"{r['duration_s']:.1f} s" if r["duration_s"] else "",
            f"{r['loudness_lufs']:.1f}" if r["loudness_lufs"] is not None else "",
            _text(r["created"]),
        )
    out.print(table)
    out.print(f"{len(rows)} cue{'s' * (len(rows) != 1)}")


@commands.command()
def show(name: CueName, store: Store = DEFAULT_STORE) -> None:
    """A delivered cue: its plan (tempo, key, sections, hits), metrics, stems, the mix's faders per section, files.

    Example: cues show night-chase --store ./cue-store
    """

    with reported_errors():
        source = open_store(store, existing=True)
        cue, others = find_cue(source, name, on_unreadable=_skipped)
        reviewed = review_lines(source, cue)
    m = cue.manifest
    plan, quality, audio = m.plan, m.quality, m.audio
    out.print(f"[bold]{_text(cue.cue_id)}[/bold]  {_text(cue.prefix)}  created {_text(cue.created)}")
    out.print(f"brief {_text(m.brief_id)}: {_text(m.brief.title or '')}")
    for line in reviewed:
        out.print(line)
    length = f"{plan.length_s:g} s" + (f" (cutdown {_text(m.cutdown_label)})" if m.cutdown is not None else "")
    out.print(
        f"{plan.medium.value}, {_text('/'.join(plan.moods))}, {_text(plan.key)}, {_text(plan.meter)}, "
        f"{plan.tempo_bpm:.1f} bpm, {length}, ending {plan.ending.value}"
    )
    sections = ", ".join(f"{s.label} {s.start_s:.1f}–{s.end_s:.1f} s" for s in plan.sections)
    out.print(f"sections: {_text(sections)}")
    for hit in plan.hits:
        met = "met" if hit.achievable else "[red]MISSED[/red]"
        out.print(
            f"hit {hit.requested_s:g} s: at {hit.achieved_s:.3f} s ({hit.error_ms:+.1f} ms), bar {hit.bar} beat "
            f"{hit.beat}, {_text(hit.placement)}, {met}"
        )
    for line in plan.revision.lines() if plan.revision else ():
        out.print(f"revision: {_text(line)}")
    for warning in plan.warnings:
        out.print(f"[yellow]warning:[/yellow] {_text(warning)}")
    for note in plan.notes:
        if note not in plan.warnings:
            out.print(f"note: {_text(note)}")
    estimate = quality.get("key_estimate") or {}
    heard = _text(f"{estimate.get('tonic', '')} {estimate.get('mode', '')}")
    out.print(
        f"in key {_text(quality.get('in_key_rate'))}, key heard {heard}, "
        f"hit error {_text(quality.get('hit_error_max_ms'))} ms"
    )
    limiter = audio.limiter
    limited = f"on, {limiter.max_gain_reduction_db} dB" if limiter.engaged else "off"
    out.print(
        f"audio {audio.duration_s:.3f} s, {audio.sample_rate} Hz/{audio.bit_depth}-bit, gain "
        f"{audio.gain_db:+.2f} dB, limiter {limited}, soundfont {_text(audio.soundfont.name)}"
    )
    _show_stems(m)
    _show_alternates(m)
    _show_game_audio(m)
    _show_balance(m)
    table = Table(box=None, pad_edge=False)
    for column in ("file", "bytes", "samples", "LUFS", "dBTP", "sha256"):
        table.add_column(column)
    for file, entry in m.files.items():
        table.add_row(
            _text(file),
            str(entry.bytes),
            _cell(entry.samples),
            _cell(entry.loudness_lufs),
            _cell(entry.true_peak_dbtp),
            entry.sha256[:16],
        )
    out.print(table)
    if others:
        out.print(f"older renders: {_text(', '.join(c.render_key for c in others))}")


@commands.command()
def get(
    name: CueName,
    store: Store = DEFAULT_STORE,
    stems: Annotated[bool, typer.Option("--stems", help="Fetch the stems too.")] = False,
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="wav, flac, mp3 or midi (default: every format delivered). FLAC and MP3 not delivered are made from "
            "the checked WAV (the same music; stems too with --stems).",
            show_default=False,
        ),
    ] = None,
    output: Annotated[Path, typer.Option("-o", "--output", help="Folder to write <cue-id>/ into.")] = Path("."),
) -> None:
    """Fetch a cue's files into OUTPUT/<cue-id>/, each checked against the manifest's sha256.

    Example: cues get night-chase --stems --format wav -o deliveries/ --store s3://acme-music/cues
    """

    with reported_errors():
        if fmt is not None and fmt not in FORMAT_SUFFIX:
            raise InvalidRequest(f"--format {fmt!r}: use one of {', '.join(FORMAT_SUFFIX)}")
        source = open_store(store, existing=True)
        cue, _ = find_cue(source, name, on_unreadable=_skipped)
        paths = fetch(source, cue, select_files(cue, stems=stems, fmt=fmt), output)
    for path in paths:
        out.print(str(path))
    out.print(f"{len(paths)} files, sha256 checked")


@commands.command()
def url(
    name: CueName,
    store: Store = DEFAULT_STORE,
    file: Annotated[str, typer.Option(help="Which file of the cue (as `cues show` lists them).")] = "mix.wav",
    expires: Annotated[int, typer.Option(min=1, max=7 * 24 * 3600, help="Seconds the link is valid (S3).")] = 3600,
) -> None:
    """A link to one of a cue's files: a presigned URL on S3 (no credentials needed to open it), the file's
    path in a local store.

    Example: cues url night-chase --file stems/bass.wav --expires 86400 --store s3://acme-music/cues
    """

    with reported_errors():
        source = open_store(store, existing=True)
        cue, _ = find_cue(source, name, on_unreadable=_skipped)
        typer.echo(file_url(source, cue, file, expires))


@commands.command()
def batches(
    store: Store = DEFAULT_STORE,
    output: Annotated[str, typer.Option("--format", help="text or json.")] = "text",
) -> None:
    """List the batches recorded in a store, newest first: id, first run, runs, sources, cues delivered and failed,
    status and the report's location (`cues report BATCH` renews an S3 report's links).

    Example: cues batches --store s3://acme-music/cues
    """
    if output not in {"text", "json"}:
        raise typer.BadParameter("use text or json", param_hint="--format")
    with reported_errors():
        source = open_store(store, existing=True)
        rows = [batch_summary(source, record) for record in list_batches(source, on_unreadable=_skipped_batch)]
    if output == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(box=None, pad_edge=False)
    for column in ("batch", "created", "runs", "sources", "cues", "delivered", "failed", "status", "report"):
        table.add_column(column)
    for r in rows:
        sources = r["sources"] if not r["schedule"] else [f"schedule {r['schedule']} {r['occurrence']}"]
        table.add_row(
            _text(r["batch_id"]),
            _text(r["created"]),
            str(r["runs"]),
            _text(", ".join(sources)),
            str(r["cues"]),
            str(r["delivered"]),
            f"[red]{r['failed']}[/red]" if r["failed"] else "0",
            _text(r["status"]),
            _text(r["report"]),
        )
    out.print(table)
    out.print(f"{len(rows)} batch{'es' * (len(rows) != 1)}")


@commands.command()
def report(
    batch: Annotated[str, typer.Argument(help="The batch id (batches/<batch-id>/).")],
    store: Store = DEFAULT_STORE,
) -> None:
    """Write a batch's report.html again, with fresh links (on S3 the report's presigned links last 7 days).

    Example: cues report b-0478f2475bc6 --store s3://acme-music/cues && cues url … (or open the local file)
    """

    with reported_errors():
        source = open_store(store, existing=True)
        record = read_batch(source, batch)  # refuses a record naming another batch: the report goes to BATCH's
        key = write_report(source, record, cue_manifests(source, record, on_unreadable=_skipped))
        typer.echo(source.presigned_url(key, 7 * 24 * 3600))


def review_lines(store: ObjectStore, cue: DeliveredCue) -> list[str]:
    """The render's review for the terminal: its verdict ("approved by X at T", rejected, or not reviewed yet),
    then each note, oldest first, with who and when. A damaged review.json is a warning, not the end of `show`."""
    try:
        entries = entries_of(store, cue)
    except StoreError as error:
        err.print(f"Warning: {CONTROL_RE.sub('', str(error))}", markup=False)
        return ["review: unreadable (see the warning)"]
    verdicts = [e for e in entries if e.approved is not None]
    if not verdicts:
        lines = ["review: not approved yet"]
    else:
        latest = verdicts[-1]
        word = "[green]approved[/green]" if latest.approved else "[red]rejected[/red]"
        lines = [f"review: {word} by {_text(latest.by)} at {_text(latest.at)}"]
    lines += [f"note by {_text(e.by)} at {_text(e.at)}: {_text(e.note)}" for e in entries if e.note]
    return lines


def _review_state(store: ObjectStore, cue: DeliveredCue) -> dict | None:
    """``cues ls --format json``'s ``review``: the newest verdict, who, when, how many notes; null if none."""
    try:
        state = state_of(store, cue)
    except StoreError as error:
        err.print(f"Warning: {CONTROL_RE.sub('', str(error))}", markup=False)
        return None
    return state.model_dump() if state else None


def _show_stems(m: CueManifest) -> None:
    """One line: each delivered stem and the role groups it carries, then the stems asked for that have no notes."""
    stems = "; ".join(
        name if (stem.groups or (name,)) == (name,) else f"{name} = {' + '.join(stem.groups)}"
        for name, stem in m.audio.stems.items()
    )
    absent = f"; absent (no notes): {', '.join(m.audio.absent_stems)}" if m.audio.absent_stems else ""
    out.print(f"stems: {_text(stems or 'none delivered')}{_text(absent)}")


def _show_alternates(m: CueManifest) -> None:
    """One line, when the brief asked for alternate mixes: each with the stems it sums and its flags."""
    if not m.audio.alternates:
        return
    shown = []
    for name, alternate in m.audio.alternates.items():
        flags = [f"missing {', '.join(alternate.missing)}"] if alternate.missing else []
        flags += ["silent: no file"] * alternate.silent + ["= the mix"] * alternate.equals_mix
        flags += ["limited"] * alternate.limited
        kept = " + ".join(alternate.stems) or "nothing"
        shown.append(f"{name} = {kept}" + (f" ({'; '.join(flags)})" if flags else ""))
    out.print(f"alternates: {_text(', '.join(shown))}")


def _show_game_audio(m: CueManifest) -> None:
    """A game cue's layers (each with its role groups), stingers and loop points; nothing for other cues."""
    audio = m.audio
    if audio.layers is not None:
        layers = "; ".join(
            f"{name} = {' + '.join(layer.stems) or 'silent'}" for name, layer in audio.layers.by_layer.items()
        )
        out.print(f"layers (additive, quietest first): {_text(layers)}")
    if audio.stingers:
        stingers = ", ".join(f"{kind} ({s.bars} bar{'s' * (s.bars > 1)})" for kind, s in audio.stingers.items())
        out.print(f"stingers: {_text(stingers)}")
    if audio.markers is not None and audio.markers.loop is not None:
        start, end = audio.markers.loop
        out.print(f"loop: samples {start}–{end}, {len(audio.markers.cue_points)} cue points (sections and hits)")


def _show_balance(m: CueManifest) -> None:
    """The lead-on-top faders of the mix, one line per section of the plan (``pipelines/render/balance.py``)."""
    balance = m.audio.balance
    if balance is None or not balance.sections:
        out.print("balance: none (no lead, or nothing to balance it against)")
        return
    out.print(
        f"balance: the lead ({_text(balance.lead)}) within 3 dB of the loudest other stem; faders per section, "
        "and the lead's margin over the loudest other stem before → after"
    )
    for section, faders in zip(m.plan.sections, balance.sections, strict=False):
        if faders.margin_db is None or faders.balanced_margin_db is None:
            margin = "no margin (the lead rests or plays alone)"
        else:
            margin = f"margin {faders.margin_db:+.2f} → {faders.balanced_margin_db:+.2f} dB"
        out.print(
            f"  {_text(section.label)} {section.start_s:.1f}–{section.end_s:.1f} s: lead {faders.lead_db:+.2f} dB, "
            f"accompaniment {faders.accompaniment_db:+.2f} dB, {margin}"
        )


def _cell(value: object) -> str:
    return "" if value is None else _text(value)


def _text(value: object) -> str:
    """Store text for the terminal, on one line: control characters dropped (tabs and line breaks become spaces),
    markup escaped."""
    return escape(CONTROL_RE.sub(lambda m: " " if m.group() in "\t\n\r" else "", str(value)))


def _skipped_batch(error: StoreError) -> None:
    """A batch ``cues batches`` left out because its record cannot be read: one line on stderr, naming it."""
    err.print(f"Warning: skipped a damaged batch record: {CONTROL_RE.sub('', str(error))}", markup=False)


def _skipped(error: StoreError) -> None:
    """A cue a listing left out because its manifest cannot be read: one line on stderr, naming it."""
    err.print(f"Warning: skipped a damaged cue: {CONTROL_RE.sub('', str(error))}", markup=False)
