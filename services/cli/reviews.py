"""``cues approve`` and ``cues note``: a person's verdict on a delivered cue, stored beside it (``review.json``).

``cues show`` prints the review; ``cues ls --format json`` gives its state. ``services/reviews.py`` does the work.
"""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from cues.pipelines.store import open_store
from cues.services.cli.options import DEFAULT_STORE, Store
from cues.services.cli.output import out, reported_errors
from cues.services.cli.retrieve import CueName, review_lines
from cues.services.reviews import add_review

commands = typer.Typer()

By = Annotated[str, typer.Option("--by", help="Who reviews (default: your user name).", show_default=False)]


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        return "cli"


@commands.command()
def approve(
    name: CueName,
    note: Annotated[str, typer.Option(help="A note with the verdict.")] = "",
    reject: Annotated[bool, typer.Option("--reject", help="Reject the cue instead.")] = False,
    by: By = "",
    store: Store = DEFAULT_STORE,
) -> None:
    """Approve a delivered cue (its newest render, or <cue-id>/<render-key>), or reject it with --reject.

    Example: cues approve night-chase --note "love the brass at the hit" --store s3://acme-music/cues
    """
    with reported_errors():
        source = open_store(store, existing=True)
        cue, _ = add_review(source, name, approved=not reject, note=note, by=by or _user())
        for line in review_lines(source, cue):
            out.print(line)


@commands.command("note")
def add_note(
    name: CueName,
    text: Annotated[str, typer.Argument(help="The note.")],
    by: By = "",
    store: Store = DEFAULT_STORE,
) -> None:
    """Leave a note on a delivered cue without a verdict (it keeps its approval or rejection).

    Example: cues note night-chase "bar 12: the strings mask the melody" --store ./cue-store
    """
    with reported_errors():
        source = open_store(store, existing=True)
        cue, _ = add_review(source, name, approved=None, note=text, by=by or _user())
        for line in review_lines(source, cue):
            out.print(line)
