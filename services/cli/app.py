"""The ``cues`` command line. Commands stay thin: parse arguments, call the library, turn errors into exit codes.

Exit status: 0 success, 1 a failure of the system (storage, Ray), 2 invalid input (briefs, schedules, options).
"""

from __future__ import annotations

import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from schemas.config import DEFAULT_STORE, GenerateConfig, RayConfig, RenderConfig
from schemas.errors import BriefError, InvalidRequest, ScoringError
from services.brief_sources import EXAMPLES_DIR
from services.cli.output import print_batch, print_entries

EXIT_FAILURE = 1
EXIT_INVALID = 2

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
schedule_app = typer.Typer(
    help="Scheduled bulk generation (schedule files, shared/specs/schedule-v1.md).", no_args_is_help=True
)
app.add_typer(schedule_app, name="schedule")

# Piped into a log (CI, cron, a Ray job), rich would assume 80 columns and cut cue ids short in the summary table.
LOG_WIDTH = 160
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else LOG_WIDTH)
err = Console(stderr=True, highlight=False, soft_wrap=True)

Sources = Annotated[
    list[str],
    typer.Argument(
        help="Brief files, folders (every *.yaml/*.yml inside), globs, or s3://bucket/prefix/.",
        show_default=False,
    ),
]


@app.callback()
def _root(
    verbose: Annotated[int, typer.Option("--verbose", "-v", count=True, help="More log output (-vv for debug).")] = 0,
) -> None:
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@app.command()
def validate(
    sources: Sources,
    output: Annotated[str, typer.Option("--format", help="text (one line per brief) or json.")] = "text",
) -> None:
    """Check briefs against the brief contract: one line per brief, ok or exactly what is wrong.

    Exits 2 if any brief is invalid.

    Example: cues validate schemas/examples/ s3://acme-music/briefs/
    """
    from services.brief_sources import read_sources

    if output not in {"text", "json"}:
        raise typer.BadParameter("use text or json", param_hint="--format")
    with reported_errors():
        entries = read_sources(sources)
    if output == "json":
        rows = [
            {
                "source": e.source,
                "position": e.position,
                "brief": e.label,
                "ok": e.ok,
                "error": e.error and e.error.describe(),
            }
            for e in entries
        ]
        typer.echo(json.dumps(rows, indent=2))
    else:
        print_entries(out, entries)
    if not all(e.ok for e in entries):
        raise typer.Exit(EXIT_INVALID)


Store = Annotated[str, typer.Option(help="Store URI: a path, file://… or s3://bucket/prefix.", envvar="CUES_STORE")]
RayAddress = Annotated[
    str | None, typer.Option(help="Ray cluster address; default: RAY_ADDRESS, else a local Ray.", show_default=False)
]
NumCpus = Annotated[int | None, typer.Option(min=1, help="CPUs for a local Ray (default: all).", show_default=False)]
Models = Annotated[
    str | None,
    typer.Option(
        "--model",
        "--models",
        help="Model bundle folder or URI (melody/, vae/, chords/); default: the shipped one.",
        show_default=False,
    ),
]
Soundfont = Annotated[
    str | None,
    typer.Option(help="A .sf2 soundfont; default: FluidR3_GM if installed, else TimGM6mb.", show_default=False),
]
Workers = Annotated[
    int | None,
    typer.Option(
        min=1, help="Cue workers (each loads the models and the synth once); default: one per CPU.", show_default=False
    ),
]
WorkerCpus = Annotated[
    float,
    typer.Option(
        min=0.01,
        max=64,
        help="CPUs each cue worker asks Ray for: 0.5 leaves room for Ray's tasks on a small machine; use 1 on an "
        "autoscaling cluster, so each worker brings a core.",
    ),
]


@app.command()
def submit(
    sources: Sources,
    store: Store = DEFAULT_STORE,
    model: Models = None,
    workers: Workers = None,
    worker_cpus: WorkerCpus = GenerateConfig.model_fields["worker_cpus"].default,
    soundfont: Soundfont = None,
    ray_address: RayAddress = None,
    num_cpus: NumCpus = None,
    as_job: Annotated[
        bool,
        typer.Option(
            "--as-job",
            help="Submit the batch to the cluster as a Ray Job (id derived from the batch: submitting twice is "
            "harmless) and return; follow it with `ray job logs`.",
        ),
    ] = False,
) -> None:
    """Generate a batch of cues on Ray: validate the briefs, expand variations and cutdowns, then compose, render,
    master and store every cue; write the batch's record, cue sheet and report.

    Each cue goes to cues/<cue-id>/<render-key>/ (cue.mid, plan.json, mix.wav, preview.mp3, stems/*.wav,
    pianoroll.png, and manifest.json last); a cue already in the store is skipped, so a re-run does only what is
    missing. The batch goes to batches/<batch-id>/ (batch.json, cuesheet.csv, report.html, then _SUCCESS).
    Invalid briefs and failed cues are reported and the rest are delivered; exits 2 if any brief was invalid, 1 if
    any cue failed.

    Example: cues submit briefs/ s3://acme-music/briefs/ --store s3://acme-music/cues --workers 8
    """
    config = GenerateConfig(
        sources=tuple(sources),
        store=store,
        models=model,
        workers=workers,
        worker_cpus=worker_cpus,
        render=RenderConfig(soundfont=soundfont),
        ray=RayConfig(address=ray_address, num_cpus=num_cpus),
    )
    if as_job:
        from services.cli.job_submission import submit_as_job

        with reported_errors():
            out.print(submit_as_job(config))
        return
    _generate(config)


@app.command()
def run(
    sources: Annotated[
        list[str] | None,
        typer.Argument(help="Brief sources (default: the bundled example briefs).", show_default=False),
    ] = None,
    store: Store = DEFAULT_STORE,
    ray_address: RayAddress = None,
    num_cpus: NumCpus = None,
    models: Models = None,
    soundfont: Soundfont = None,
) -> None:
    """The main job with the embedded defaults: `cues submit` on the bundled example briefs (or SOURCES), local
    Ray unless RAY_ADDRESS is set, store ./cue-store. Same outputs and exit codes as `cues submit`.

    Example: cues run --store ./cue-store
    """
    _generate(
        GenerateConfig(
            sources=tuple(sources or [_shown_path(EXAMPLES_DIR)]),
            store=store,
            models=models,
            render=RenderConfig(soundfont=soundfont),
            ray=RayConfig(address=ray_address, num_cpus=num_cpus),
        )
    )


def _generate(config) -> None:
    """Run the batch with a progress bar, print its summary, exit with its status."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipelines.generate.job import run as run_job

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with reported_errors(), Progress(*columns, console=err, transient=True) as progress:
        tasks: dict[str, object] = {}

        def show(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        record = run_job(config, on_progress=show)
    print_batch(out, record)
    if record.failures:
        raise typer.Exit(EXIT_INVALID)
    if record.failed_cues:
        raise typer.Exit(EXIT_FAILURE)


@app.command()
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
    from pipelines.preprocess.sources import COLLECTIONS, collection_works

    if list_sources:
        for collection in COLLECTIONS.values():
            count = sum(1 for _ in collection_works(collection))
            use = "no restriction stated" if collection.commercial_use else "NON-COMMERCIAL ONLY"
            out.print(f"{collection.name:<9} {count:>6} works  {collection.format:<8} {use:<21} {collection.title}")
            out.print(f"{'':<9} licence: {collection.licence}")
        return

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from pipelines.preprocess.pipeline import run as run_preprocess
    from schemas.config import PreprocessConfig

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


@app.command()
def train(
    model: Annotated[str, typer.Option(help="melody, vae or chords.", show_default=False)],
    dataset: Annotated[
        str, typer.Option(help="A dataset version URI (…/datasets/<name>/<version>) or a dataset's folder (latest).")
    ],
    out_store: Annotated[
        str, typer.Option("--out", help="Store URI for models/<name>/<version>/.", envvar="CUES_STORE")
    ] = DEFAULT_STORE,
    workers: Annotated[int, typer.Option(min=1, help="Ray Train workers (DDP).")] = 1,
    gpu: Annotated[str, typer.Option(help="auto (use GPUs when the cluster has them), on or off.")] = "auto",
    epochs: Annotated[int, typer.Option(min=1, help="Most epochs (early stopping may end sooner).")] = 20,
    batch_size: Annotated[int, typer.Option(min=1, help="Sequences per batch and worker.")] = 64,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed reproduces a CPU run.")] = 0,
    max_train_sequences: Annotated[
        int | None, typer.Option(min=1, help="Use only this many training works (quick runs).", show_default=False)
    ] = None,
    bundle: Annotated[
        str | None,
        typer.Option(
            help="Also copy the finished model into this model bundle folder (<folder>/<model>/), e.g. "
            "pipelines/default_models, the bundle the generation job uses by default.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Train a model on Ray Train, evaluate it against a 5-gram baseline, and write it with its card.

    Checkpoints go into the store every epoch; starting the same training again after an interruption resumes it,
    and a finished one returns at once.

    Example: cues train --model melody --dataset ./cue-store/datasets/folk-chorales --workers 2
    """
    from pipelines.train.data import resolve_dataset
    from pipelines.train.trainer import run as run_training
    from schemas.training import TrainConfig

    if model not in {"melody", "vae", "chords"}:
        raise typer.BadParameter("use melody, vae or chords", param_hint="--model")
    if gpu not in {"auto", "on", "off"}:
        raise typer.BadParameter("use auto, on or off", param_hint="--gpu")
    with reported_errors():
        config = TrainConfig(
            model=model,
            dataset=resolve_dataset(dataset),
            out=out_store,
            workers=workers,
            gpu=gpu,
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
            max_train_sequences=max_train_sequences,
        )
        result = run_training(config)
        if bundle:
            from pipelines.train.bundle import install_model

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


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter in tables), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


@contextmanager
def reported_errors():
    """Library errors become one line on stderr and an exit status, never a traceback."""
    try:
        yield
    except (BriefError, InvalidRequest) as error:
        err.print(f"Error: {error}", markup=False)
        raise typer.Exit(EXIT_INVALID) from None
    except ScoringError as error:
        err.print(f"Error: {error}", markup=False)
        raise typer.Exit(EXIT_FAILURE) from None


def main() -> None:
    """Console entry point (``cues``)."""
    app()


# Commands of the other groups register themselves on ``app`` and ``schedule_app`` when imported.
from services.cli import retrieve, schedules  # noqa: E402, F401
