"""What the CLI shows and how it ends: the consoles, the exit codes, library errors as one line (never a
traceback), and briefs and batches as plain lines that grep well, colour only on a terminal.

Exit status: 0 success, 1 a failure of the system (storage, Ray), 2 invalid input (briefs, schedules, options),
3 with ``--strict``, a plan that departs from its brief (its warnings).
"""

from __future__ import annotations

import sys
from collections import Counter
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cues.schemas.batch import BatchRecord, CueResult
from cues.schemas.brief_file import BriefEntry
from cues.schemas.errors import BriefError, InvalidRequest, ScoringError, StoreURIError

EXIT_FAILURE = 1
EXIT_INVALID = 2
HIT_TOLERANCE_MS = 10.0  # the brief contract's: a hit further from its time is MISSED
EXIT_STRICT = 3  # --strict: a plan departed from its brief (a moved tempo, a missed hit)

# Piped into a log (CI, cron, a Ray job), rich would assume 80 columns and cut cue ids short in the summary table.
LOG_WIDTH = 160
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else LOG_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@contextmanager
def reported_errors():
    """Library errors become one line on stderr and an exit status, never a traceback."""
    try:
        yield
    except (BriefError, InvalidRequest, StoreURIError) as error:  # what the user typed: briefs, names, store URIs
        err.print(f"Error: {error}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    except ScoringError as error:
        err.print(f"Error: {error}", markup=False)
        raise typer.Exit(EXIT_FAILURE) from None


def print_entries(console: Console, entries: list[BriefEntry]) -> None:
    """One line per brief (``ok`` or ``invalid``, file, brief, summary or error), then a one-line total."""
    for entry in entries:
        if entry.ok:
            summary = escape(entry.brief.summary())
            console.print(f"[green]ok[/green]       {escape(entry.source)}  {escape(entry.label)}  {summary}")
        else:
            console.print(f"[red]invalid[/red]  {escape(entry.error.describe())}")
    counts = Counter(e.ok for e in entries)
    files = len({e.source for e in entries})
    line = f"{len(entries)} brief{'s' * (len(entries) != 1)} in {files} file{'s' * (files != 1)}: {counts[True]} ok"
    if counts[False]:
        line += f", [red]{counts[False]} invalid[/red]"
    console.print(line)


def print_batch(console: Console, record: BatchRecord) -> None:
    """The cues table (key, length, in-key rate, key estimate, hit error, where), a one-line total, the record."""
    table = Table(title=f"batch {record.batch_id} ({record.status})", show_lines=False)
    for column in ("cue", "length", "in key", "key heard", "hits ms", "LUFS", "dBTP", "status"):
        table.add_column(column)
    for result in record.results:
        quality = result.quality or {}
        estimate = quality.get("key_estimate") or {}
        audio = result.audio
        if result.ok:
            status = "[dim]already in the store[/dim]" if result.skipped else "[green]rendered[/green]"
            if audio and audio.silent_stems:
                status += f" [yellow](silent: {', '.join(audio.silent_stems)})[/yellow]"
        else:
            status = f"[red]{escape(result.error or 'failed')}[/red]"
        hits = quality.get("hit_error_max_ms")
        missed = hits is not None and hits > HIT_TOLERANCE_MS
        limited = "*" if audio and audio.limited else ""
        table.add_row(
            escape(result.cue_id),
            f"{result.length_s:.2f} s" if result.length_s else "",
            f"{quality['in_key_rate']:.3f}" if quality.get("in_key_rate") is not None else "",
            _heard(estimate, quality.get("key_match", True)),
            (f"[red]{hits:.3f} MISSED[/red]" if missed else f"{hits:.3f}") if hits is not None else "",
            f"{audio.loudness_lufs:.1f}" if audio and audio.loudness_lufs is not None else "",
            f"{audio.true_peak_dbtp:.1f}{limited}" if audio and audio.true_peak_dbtp is not None else "",
            status,
        )
    console.print(table)
    if any(r.audio and r.audio.limited for r in record.results):
        console.print("[dim]* the true-peak limiter acted on the mix (stems are never limited)[/dim]")
    heard = [r.quality for r in record.results if r.quality and r.quality.get("key_estimate")]
    matches = {quality.get("key_match", True) for quality in heard}  # absent in records before key_match
    if None in matches:
        console.print(
            "[dim]~ a modal key (dorian, phrygian, lydian, mixolydian): the key finder hears only major and minor, so "
            "the nearest of those is expected[/dim]"
        )
    if False in matches:
        console.print("[dim]≠ the key heard is not the key planned (the plan's key is in `cues show`)[/dim]")
    for result in record.results:
        for warning in result.warnings:
            console.print(f"[yellow]warning[/yellow] {escape(result.cue_id)}: {escape(warning)}")
        for line in result.revision:
            console.print(f"[cyan]note[/cyan] {escape(result.cue_id)}: {escape(line)}")
    for brief in record.failures:
        console.print(f"[red]invalid[/red]  {escape(brief.error or brief.brief)}")
    ok = sum(b.ok for b in record.briefs)
    rendered = sum(r.ok and not r.skipped for r in record.results)
    skipped = sum(r.skipped for r in record.results)
    summary = Table(show_header=True, box=None, pad_edge=False)
    for column in ("briefs ok", "invalid", "cues done", "skipped", "failed", "audio", "wall time"):
        summary.add_column(column, justify="right")
    summary.add_row(
        str(ok),
        f"[red]{len(record.briefs) - ok}[/red]" if len(record.briefs) > ok else "0",
        str(rendered),
        str(skipped),
        f"[red]{len(record.failed_cues)}[/red]" if record.failed_cues else "0",
        f"{record.audio_s / 60:.1f} min",
        f"{record.wall_s:.1f} s" if record.wall_s is not None else "",
    )
    console.print(summary)
    if record.runtime:
        console.print(f"Made in {record.runtime}", markup=False)
    folder = f"{record.store.rstrip('/')}/{record.folder}"
    console.print(f"Batch: {folder}/ (batch.json, cuesheet.csv, report.html)")


def _heard(estimate: dict, match: bool | None) -> str:
    """The key the key finder heard, marked ``~`` for a modal plan (it hears only major and minor) and ``≠`` when
    it differs from a major or minor plan."""
    heard = f"{estimate.get('tonic', '')} {estimate.get('mode', '')}".strip()
    if not heard:
        return ""
    return heard + {None: " ~", False: " ≠"}.get(match, "")


def print_stopped(console: Console, signal_name: str, finished: list[CueResult] | None, total: int | None) -> None:
    """One line when a batch is stopped by a signal: what was delivered, and that a re-run finishes the rest."""
    rerun = "run the same command again to finish the rest (cues already delivered are skipped)"
    if finished is None:
        console.print(f"Stopped by {signal_name}: no batch record was written; {rerun}.", markup=False)
        return
    delivered = sum(r.ok for r in finished)
    failed = f", {len(finished) - delivered} failed" if len(finished) > delivered else ""
    console.print(
        f"Stopped by {signal_name}: {delivered} of {total} cues delivered{failed}, the workers closed, no batch "
        f"record written; {rerun}.",
        markup=False,
    )
