"""The ``cues`` command line: the root command, with the command groups of the modules beside it.

Commands stay thin: parse arguments, call the library, turn errors into exit codes (``output.reported_errors``).
Exit status: 0 success, 1 a failure of the system (storage, Ray), 2 invalid input (briefs, schedules, options).
"""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from cues.services.cli import generate, planning, retrieve, reviews, runtime, schedules, tokens, training

app = typer.Typer(
    name="cues",
    help="Batch media scoring: YAML briefs in; MIDI, stems and a mastered mix out, on Ray.\n\n"
    "Example: cues validate briefs/   ·   cues run briefs/ --store s3://bucket/cues",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_show_locals=False,  # locals may hold credentials
)
for group in (generate.commands, runtime.commands, planning.commands, training.commands, retrieve.commands,
              reviews.commands):
    app.add_typer(group)  # no name: their commands sit at the top level (cues submit, cues ls, …)
app.add_typer(schedules.commands, name="schedule")
app.add_typer(tokens.commands, name="token")


@app.callback()
def _root(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")] = 0,
) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


def main() -> None:
    """Console entry point (``cues``)."""
    app()
