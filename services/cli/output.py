"""How the CLI shows briefs and batches: plain lines that grep well, colour only on a terminal."""

from __future__ import annotations

from collections import Counter

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from schemas.brief_file import BriefEntry


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


def print_batch(console: Console, record) -> None:
    """The batch summary table and where its record is."""
    table = Table(title=f"batch {record.batch_id} ({record.status})", show_lines=False)
    for column in ("brief", "source", "cues", "status"):
        table.add_column(column)
    for brief in record.briefs:
        status = "[green]ok[/green]" if brief.ok else f"[red]{escape(brief.error or 'failed')}[/red]"
        table.add_row(escape(brief.brief), escape(brief.source), str(brief.cues), status)
    console.print(table)
    ok = sum(b.ok for b in record.briefs)
    console.print(
        f"{len(record.briefs)} briefs: {ok} ok, {len(record.briefs) - ok} failed; {len(record.cues)} cues planned."
    )
    console.print(f"Batch record: {record.store.rstrip('/')}/{record.key}")
