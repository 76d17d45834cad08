"""``cues token …``: the API's callers. ``add`` makes a bearer token, prints it once and keeps only its hash
(``services/api/auth.py`` does the work); ``revoke`` removes one (a running service follows the file); ``list``
names them with their limits; ``webhook-secret`` prints the key a caller verifies its webhooks with.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cues.schemas.api_tokens import ApiToken
from cues.schemas.errors import InvalidRequest
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
    (created, mode 0600). A running cues serve accepts it within a second (it follows the file).

    Example: cues token add build-farm --rate 600 --max-batch 200 --tokens /etc/cues/tokens.yaml
    """
    from cues.services.api.auth import add_token  # FastAPI: only for this command, not every `cues` start

    with reported_errors():
        token = add_token(tokens, name, requests_per_minute=rate, max_batch_cues=max_batch)
    typer.echo(token)
    err.print(f"added {name!r} to {tokens}; the token above is shown only now", markup=False)


@commands.command("revoke")
def revoke(
    name: Annotated[str, typer.Argument(help="The caller whose token stops working.")],
    tokens: TokensFile = Path("tokens.yaml"),
) -> None:
    """Remove NAME's token from the tokens file: a running cues serve refuses it within a second (it follows the
    file), and so does every service started later. Its batches and cues stay in the store.

    Example: cues token revoke build-farm --tokens /etc/cues/tokens.yaml
    """
    from cues.services.api.auth import revoke_token  # FastAPI: only for this command

    with reported_errors():
        revoke_token(tokens, name)
    err.print(f"revoked {name!r} in {tokens}", markup=False)


@commands.command("list")
def list_tokens(tokens: TokensFile = Path("tokens.yaml")) -> None:
    """The callers in the tokens file, with their limits (never a token: the file has none).

    Example: cues token list --tokens /etc/cues/tokens.yaml
    """
    from cues.services.api.auth import read_token_file  # FastAPI: only for this command

    with reported_errors():
        book = read_token_file(tokens)
    for token in book.tokens:
        typer.echo(f"{token.name}\t{token.requests_per_minute} requests/min\t{token.max_batch_cues} cues/batch")
    if not book.tokens:
        err.print(f"{tokens} holds no tokens: `cues token add NAME --tokens {tokens}` makes one", markup=False)


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
    from cues.services.api.auth import read_token_file  # FastAPI and httpx: only for this command
    from cues.services.api.webhooks import read_service_secret, webhook_secret

    with reported_errors():
        if tokens is not None and name not in {token.name for token in read_token_file(tokens).tokens}:
            raise InvalidRequest(f"{tokens} has no token named {name!r}; `cues token add {name}` makes one")
        typer.echo(webhook_secret(read_service_secret(secret_file), name).decode())
