"""``cues token …``: the API's callers. ``webhook-secret`` prints the key a caller verifies its webhooks with.

api-core's ``cues token add`` belongs in this group too (``services/api/auth.py`` does the work).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cues.schemas.errors import InvalidRequest
from cues.services.api.auth import read_token_file
from cues.services.api.webhooks import read_service_secret, webhook_secret
from cues.services.cli.output import reported_errors

commands = typer.Typer(help="The HTTP API's callers (cues serve): tokens and webhook signing secrets.",
                       no_args_is_help=True)


@commands.command("webhook-secret")
def show_webhook_secret(
    name: Annotated[str, typer.Argument(help="The caller: its token's name (as in the tokens file).")],
    secret_file: Annotated[
        Path,
        typer.Option(
            "--webhook-secret",
            envvar="CUES_WEBHOOK_SECRET_FILE",
            help="The service's webhook secret file (the one cues serve uses); made, mode 0600, if missing.",
        ),
    ],
    tokens: Annotated[
        Path | None,
        typer.Option(help="The tokens file: NAME must be a caller in it (a typo would print a useless secret).",
                     show_default=False),
    ] = None,
) -> None:
    """Print the secret that signs NAME's webhooks (the Cues-Signature header): give it to that caller only.

    Each caller has its own, derived from the service's secret: one cannot verify or forge another's. Replacing
    the service's secret file changes every caller's.

    Example: cues token webhook-secret build-farm --webhook-secret /etc/cues/webhook.secret --tokens tokens.yaml
    """
    with reported_errors():
        if tokens is not None and name not in {token.name for token in read_token_file(tokens).tokens}:
            raise InvalidRequest(f"{tokens} has no token named {name!r}; `cues token add {name}` makes one")
        typer.echo(webhook_secret(read_service_secret(secret_file), name).decode())
