"""``cues preprocess`` and ``train``: the corpus into training shards, and shards into models."""

from __future__ import annotations

from typing import Annotated

import typer

from cues.pipelines.preprocess.sources import COLLECTIONS, collection_works
from cues.pipelines.train.data import resolve_dataset
from cues.schemas.config import DEFAULT_STORE, PreprocessConfig, RayConfig
from cues.schemas.training import CriticTrainConfig, TrainConfig, VAEPriorConfig
from cues.services.cli.output import err, out, reported_errors

commands = typer.Typer()


@commands.command()
def preprocess(
    source: Annotated[
        list[str] | None,
        typer.Option(
            "--source",
            "-s",
            help="A bundled collection (see --list-sources), a folder or an s3:// prefix of .mid/.mxl/.abc; "
            "repeat for several. Default: every bundled collection.",
            show_default=False,
        ),
    ] = None,
    list_sources: Annotated[
        bool, typer.Option("--list-sources", help="List the bundled collections and exit.")
    ] = False,
    exclude_noncommercial: Annotated[
        bool,
        typer.Option("--exclude-noncommercial", help="Leave out collections licensed for non-commercial use only."),
    ] = False,
    name: Annotated[str, typer.Option(help="Dataset name (a slug).")] = "folk-chorales",
    store: Annotated[str, typer.Option(help="Store URI.", envvar="CUES_STORE")] = DEFAULT_STORE,
    limit: Annotated[
        int | None, typer.Option(min=1, help="Only the first N works of each source.", show_default=False)
    ] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Parallel tasks (default: every CPU).", show_default=False)
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(help="Ray cluster address; default: RAY_ADDRESS, else a local Ray.", show_default=False),
    ] = None,
) -> None:
    """Turn the corpus into tokenised, labelled, split training shards in the store (Ray Data, resumable).

    A re-run with the same inputs finds the finished dataset and returns at once; an interrupted run resumes from the
    chunks it already processed. The dataset card (card.md) says what went in, what was dropped and why.

    Example: cues preprocess --source essen --source bach --limit 500 --store ./cue-store
    """

    if list_sources:
        for collection in COLLECTIONS.values():
            count = sum(1 for _ in collection_works(collection))
            use = "no restriction stated" if collection.commercial_use else "NON-COMMERCIAL ONLY"
            out.print(f"{collection.name:<9} {count:>6} works  {collection.format:<8} {use:<21} {collection.title}")
            out.print(f"{'':<9} licence: {collection.licence}")
        return

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cues.pipelines.preprocess.pipeline import run as run_preprocess  # brings Ray: only when run

    with reported_errors():
        config = PreprocessConfig(
            **({"sources": tuple(source)} if source else {}),
            include_noncommercial=not exclude_noncommercial,
            name=name,
            store=store,
            limit=limit,
            workers=workers,
            ray=RayConfig(address=ray_address),
        )
        columns = (
            TextColumn("preprocessing"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("works"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=err, transient=True) as progress:
            task = progress.add_task("works", total=None)
            result = run_preprocess(config, lambda done, total: progress.update(task, completed=done, total=total))
    card = result.card
    counts = card["counts"]
    state = "already complete" if result.cached else f"built in {result.seconds:.0f} s"
    out.print(f"dataset {config.name} {result.version}: {state}")
    out.print(
        f"  {counts['works_in']} works in, {counts['kept']} kept, {counts['dropped']} dropped: "
        + ", ".join(f"{r} {n}" for r, n in counts["dropped_by_reason"].items())
    )
    out.print("  splits: " + ", ".join(f"{k} {v['rows']}" for k, v in card["splits"].items() if v["rows"]))
    out.print(f"  card: {result.uri.rstrip('/')}/{result.prefix}/card.md")


@commands.command()
def train(
    model: Annotated[
        str,
        typer.Option(
            help="melody, vae or chords; or critic, the phrase critic trained against the composer of --bundle "
            "(default: the shipped bundle); or vae-prior, the latent prior of --bundle's VAE fitted to the "
            "dataset's phrases.",
            show_default=False,
        ),
    ],
    dataset: Annotated[
        str, typer.Option(help="A dataset version URI (…/datasets/<name>/<version>) or a dataset's folder (latest).")
    ],
    out_store: Annotated[
        str, typer.Option("--out", help="Store URI for models/<name>/<version>/.", envvar="CUES_STORE")
    ] = DEFAULT_STORE,
    workers: Annotated[int, typer.Option(min=1, help="Ray Train workers (DDP).")] = 1,
    gpu: Annotated[str, typer.Option(help="auto (use GPUs when the cluster has them), on or off.")] = "auto",
    epochs: Annotated[
        int | None,
        typer.Option(
            min=1, help="Most epochs (early stopping may end sooner); default 20 (critic: 8).", show_default=False
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(min=1, help="Sequences per batch and worker; default 64 (critic: 256).", show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed reproduces a CPU run.")] = 0,
    max_train_sequences: Annotated[
        int | None, typer.Option(min=1, help="Use only this many training works (quick runs).", show_default=False)
    ] = None,
    bundle: Annotated[
        str | None,
        typer.Option(
            help="Also copy the finished model into this model bundle folder (<folder>/<model>/), e.g. "
            "pipelines/models/default, the bundle the generation job uses by default.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train a model on Ray Train, evaluate it against a 5-gram baseline, and write it with its card.

    Checkpoints go into the store every epoch; starting the same training again after an interruption resumes it,
    and a finished one returns at once.

    The critic (--model critic) trains in one process, without Ray: its card gives its held-out accuracy before and
    after reranking (pipelines/train/critic.py). --model vae-prior fits where the composer draws the VAE's motifs
    from (pipelines/train/vae_prior.py), in one process, in a minute; its card gives the decodes' rhythm.

    Example: cues train --model melody --dataset ./cue-store/datasets/folk-chorales --workers 2
    """
    from cues.pipelines.models.bundle import install_model  # these bring torch and Ray: only when run
    from cues.pipelines.train.trainer import run as run_training

    if model not in {"melody", "vae", "chords", "critic", "vae-prior"}:
        raise typer.BadParameter("use melody, vae, chords, critic or vae-prior", param_hint="--model")
    if gpu not in {"auto", "on", "off"}:
        raise typer.BadParameter("use auto, on or off", param_hint="--gpu")
    if model == "critic":
        sizes = {k: v for k, v in (("epochs", epochs), ("batch_size", batch_size)) if v is not None}
        _train_critic(dict(dataset=dataset, out=out_store, seed=seed, **sizes), bundle)
        return
    if model == "vae-prior":
        _fit_vae_prior(dict(dataset=dataset, out=out_store, seed=seed), bundle)
        return
    with reported_errors():
        config = TrainConfig(
            model=model,
            dataset=resolve_dataset(dataset),
            out=out_store,
            workers=workers,
            gpu=gpu,
            epochs=epochs or 20,
            batch_size=batch_size or 64,
            seed=seed,
            max_train_sequences=max_train_sequences,
        )
        result = run_training(config)
        if bundle:
            installed = install_model(f"{result.uri.rstrip('/')}/{result.prefix}", bundle, model)
    card = result.card
    state = "already trained" if result.cached else f"trained {card['training']['epochs_run']} epochs"
    out.print(f"model {card['name']} {result.version}: {state}, {card['parameters']:,} parameters")
    evaluation = card["evaluation"]
    out.print(f"  test: {evaluation['test']}")
    out.print(f"  5-gram: {evaluation['baseline_5gram']}")
    if "targets" in evaluation:
        out.print(f"  targets: {evaluation['targets']}")
    out.print(f"  card: {result.uri.rstrip('/')}/{result.prefix}/card.md")
    if bundle:
        out.print(f"  installed in the bundle: {installed}")


def _train_critic(settings: dict, bundle: str | None) -> None:
    """The phrase critic against the composer of ``bundle`` (the shipped one by default), installed into it;
    ``settings`` are CriticTrainConfig's fields from the command line."""
    from cues.pipelines.compose.composer import COMPOSER_VERSION, ComposerModels  # these bring torch: only when run
    from cues.pipelines.compose.phrase_pool import critic_briefs, cue_slots, generated_pool
    from cues.pipelines.models.bundle import install_model
    from cues.pipelines.train.critic_trainer import run as run_critic

    with reported_errors():
        config = CriticTrainConfig(**settings | {"dataset": resolve_dataset(settings["dataset"]), "generator": bundle})
        models = ComposerModels.load(bundle)
        result = run_critic(
            config,
            models.versions | {"composer": COMPOSER_VERSION},  # the composer's code writes the phrases too
            lambda: generated_pool(models, config.briefs, config.raw_slots, config.candidates, config.seed),
            lambda critic: cue_slots(critic_briefs(config.briefs), models, 1, config.seed, critic),
        )
        if bundle:
            installed = install_model(f"{result.uri.rstrip('/')}/{result.prefix}", bundle, "critic")
    card = result.card
    state = "already trained" if result.cached else f"trained {len(card['rounds'])} rounds"
    out.print(f"model {card['name']} {result.version}: {state}, {card['parameters']:,} parameters")
    for name, figures in card["evaluation"].items():
        if name != "target":
            out.print(f"  {name}: held-out accuracy {figures['accuracy']}")
    out.print(f"  target (c) <= 0.70: {'met' if card['evaluation']['target']['met'] else 'not met'}")
    out.print(f"  card: {result.uri.rstrip('/')}/{result.prefix}/card.md")
    if bundle:
        out.print(f"  installed in the bundle: {installed}")


def _fit_vae_prior(settings: dict, bundle: str | None) -> None:
    """The latent prior of ``bundle``'s VAE (the shipped one by default) fitted to the dataset's phrases, the VAE
    with it installed into ``bundle``; ``settings`` are VAEPriorConfig's fields from the command line."""
    from cues.pipelines.models.bundle import DEFAULT_BUNDLE, install_model  # these bring torch: only when run
    from cues.pipelines.train.vae_prior import run as run_prior

    with reported_errors():
        source = f"{str(bundle or DEFAULT_BUNDLE).rstrip('/')}/vae"
        config = VAEPriorConfig(**settings | {"dataset": resolve_dataset(settings["dataset"]), "source": source})
        result = run_prior(config)
        if bundle:
            installed = install_model(f"{result.uri.rstrip('/')}/{result.prefix}", bundle, "vae")
    prior = result.card["prior"]
    state = "already fitted" if result.cached else f"fitted in {prior['seconds']:.0f} s"
    out.print(f"model {result.card['name']} {result.version}: {prior['source_version']}'s prior {state}")
    for side, figures in prior["decoded_rhythm"].items():
        out.print(
            f"  {side}: {figures['onsets_per_phrase']} onsets per 32 steps, sixteenths {figures['sixteenth_notes']}"
        )
    out.print(f"  card: {result.uri.rstrip('/')}/{result.prefix}/card.md")
    if bundle:
        out.print(f"  installed in the bundle: {installed}")
