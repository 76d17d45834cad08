"""``cues token …``: the API's callers. ``add`` makes a bearer token, prints it once and keeps only its hash.

(hooks-19 adds ``webhook-secret`` to this group.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cues.schemas.api_tokens import ApiToken
from cues.services.cli.output import err, reported_errors
from cues.services.cli.serving import TokensFile

commands = typer.Typer(help="The HTTP API's callers (cues serve): tokens and webhook signing secrets.",
                       no_args_is_help=True)

_LIMITS = ApiToken.model_fields


@commands.command("add")
def add(
    name: Annotated[str, typer.Argument(help="The caller's name, for logs and its batches (letters, digits, .-_).")],
    rate: Annotated[
        int, typer.Option(min=1, max=100_000, help="Requests a minute this token may make.")
    ] = _LIMITS["requests_per_minute"].default,
    max_batch: Annotated[
        int, typer.Option(min=1, max=10_000, help="Cues one batch of this token may expand to.")
    ] = _LIMITS["max_batch_cues"].default,
    tokens: TokensFile = Path("tokens.yaml"),
) -> None:
    """Make a bearer token for NAME: print it once (it is stored nowhere) and add its SHA-256 to the tokens file
    (created, mode 0600). cues serve reads the file when it starts.

    Example: cues token add build-farm --rate 600 --max-batch 200 --tokens /etc/cues/tokens.yaml
    """
    from cues.services.api.auth import add_token  # FastAPI comes with it: only when used

    with reported_errors():
        token = add_token(tokens, name, requests_per_minute=rate, max_batch_cues=max_batch)
    typer.echo(token)
    err.print(f"added {name!r} to {tokens}; the token above is shown only now", markup=False)
