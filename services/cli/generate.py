"""``cues validate``, ``submit`` and ``run``: check briefs, and generate a batch of cues from them."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Annotated

import typer

from cues.pipelines.generate.brief_sources import EXAMPLES_DIR, read_sources
from cues.pipelines.generate.revision_source import StoreRevisions
from cues.pipelines.store import open_store
from cues.schemas.config import GenerateConfig, RayConfig, RenderConfig
from cues.schemas.errors import BatchNotRecorded
from cues.services.cli.options import (
    DEFAULT_STORE,
    Cold,
    ForceRay,
    Models,
    NumCpus,
    RayAddress,
    Soundfont,
    Sources,
    Store,
    Strict,
    WorkerCpus,
    Workers,
)
from cues.services.cli.output import (
    EXIT_FAILURE,
    EXIT_INVALID,
    EXIT_STRICT,
    err,
    out,
    print_batch,
    print_entries,
    print_stopped,
    reported_errors,
)

commands = typer.Typer()


@commands.command()
def validate(
    sources: Sources,
    output: Annotated[str, typer.Option("--format", help="text (one line per brief) or json.")] = "text",
    store: Store = DEFAULT_STORE,
) -> None:
    """Check briefs against the brief contract: one line per brief, ok or exactly what is wrong. A revision
    (revise: <cue-id>) is checked against the cue it revises in --store, read only when a brief is one.

    Exits 2 if any brief is invalid.

    Example: cues validate schemas/examples/ s3://acme-music/briefs/
    """
    if output not in {"text", "json"}:
        raise typer.BadParameter("use text or json", param_hint="--format")
    with reported_errors():
        entries = read_sources(sources, StoreRevisions(store))
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


@commands.command()
def submit(
    sources: Sources,
    store: Store = DEFAULT_STORE,
    model: Models = None,
    workers: Workers = None,
    worker_cpus: WorkerCpus = GenerateConfig.model_fields["worker_cpus"].default,
    soundfont: Soundfont = None,
    ray_address: RayAddress = None,
    num_cpus: NumCpus = None,
    worker_start_timeout: Annotated[
        float,
        typer.Option(
            min=1,
            help="Seconds a cue worker may take to start; one Ray cannot place in time (too few CPUs) is given up "
            "and its cues go to the workers that started.",
        ),
    ] = GenerateConfig.model_fields["worker_start_timeout_s"].default,
    as_job: Annotated[
        bool,
        typer.Option(
            "--as-job",
            help="Submit the batch to the cluster as a Ray Job (id derived from the batch: submitting twice is "
            "harmless) and return; follow it with `ray job logs`.",
        ),
    ] = False,
    strict: Strict = False,
    cold: Cold = False,
    force_ray: ForceRay = False,
) -> None:
    """Generate a batch of cues on Ray (a small one in this process): validate the briefs, expand variations and
    cutdowns, then compose, render, master and store every cue; write the batch's record, cue sheet and report.

    Each cue goes to cues/<cue-id>/<render-key>/ (cue.mid, plan.json, mix.wav, preview.mp3, stems/*.wav,
    pianoroll.png, and manifest.json last); a cue already in the store is skipped, so a re-run does only what is
    missing. The batch goes to batches/<batch-id>/ (batch.json, cuesheet.csv, report.html, then _SUCCESS).
    With a warm runtime on this machine (`cues up`) and no cluster address, the batch uses its warm workers; with
    neither, a small batch (up to 120 s of music) is made in this process without starting Ray (--ray: on Ray).
    The summary says where the cues were made.
    Invalid briefs and failed cues are reported and the rest are delivered; exits 2 if any brief was invalid, 1 if
    any cue failed; with --strict, 3 if any plan departs from its brief (its warnings are listed under the table).

    Example: cues submit briefs/ s3://acme-music/briefs/ --store s3://acme-music/cues --workers 8
    """
    config = GenerateConfig(
        sources=tuple(sources),
        store=store,
        models=model,
        workers=workers,
        worker_cpus=worker_cpus,
        worker_start_timeout_s=worker_start_timeout,
        render=RenderConfig(soundfont=soundfont),
        ray=_ray_config(ray_address, num_cpus, cold, force_ray),
    )
    if as_job:
        from cues.services.cli.job_submission import submit_as_job  # the job module brings torch: only when used

        with reported_errors():
            out.print(submit_as_job(config))
        return
    _generate(config, strict)


@commands.command()
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
    strict: Strict = False,
    cold: Cold = False,
    force_ray: ForceRay = False,
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
            ray=_ray_config(ray_address, num_cpus, cold, force_ray),
        ),
        strict,
    )


def _ray_config(address: str | None, num_cpus: int | None, cold: bool, force_ray: bool) -> RayConfig:
    """``--ray`` sets no batch small enough to be made in this process."""
    small = {"in_process_max_s": 0} if force_ray else {}
    return RayConfig(address=address, num_cpus=num_cpus, warm=not cold, **small)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _generate(config, strict: bool = False) -> None:
    """Run the batch with a progress bar, print its summary, exit with its status. Ctrl-C or SIGTERM stops it with
    one line (what was delivered; a re-run finishes the rest) and exit 128 + the signal's number (130, 143)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from cues.pipelines.generate.job import BatchStopped
    from cues.pipelines.generate.job import run as run_job  # brings torch, Ray and FluidSynth: only when run

    with reported_errors():
        location = open_store(config.store).location
    if location.scheme == "file":  # "s3:/bucket" or a typo would otherwise make a new folder unnoticed
        new = "" if os.path.isdir(location.root) else " (new)"
        err.print(f"store: {location.root}{new}", markup=False)
    else:
        err.print(f"store: {location.uri}", markup=False)

    received: list[int] = []

    def stop(signum: int, _frame) -> None:
        received.append(signum)
        for number in STOP_SIGNALS:  # a second signal while the workers close ends the process at once
            signal.signal(number, signal.SIG_DFL)
        raise KeyboardInterrupt

    previous = {number: signal.signal(number, stop) for number in STOP_SIGNALS}
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with reported_errors(), Progress(*columns, console=err, transient=True) as progress:
            tasks: dict[str, object] = {}

            def show(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = progress.add_task(stage, total=total)
                progress.update(tasks[stage], completed=done, total=total)

            try:
                record = run_job(config, on_progress=show)
            except BatchNotRecorded as error:  # every cue ran: show them, then the store's error
                record, unrecorded = error.record, error
            else:
                unrecorded = None
    except KeyboardInterrupt as stopped:
        number = received[0] if received else signal.SIGINT
        finished = stopped.finished if isinstance(stopped, BatchStopped) else None
        print_stopped(err, signal.Signals(number).name, finished, getattr(stopped, "total", None))
        raise typer.Exit(128 + number) from None
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    print_batch(out, record)
    if unrecorded:
        err.print(f"Error: {unrecorded}", markup=False)
        raise typer.Exit(EXIT_FAILURE)
    if record.failures:
        raise typer.Exit(EXIT_INVALID)
    if record.failed_cues:
        raise typer.Exit(EXIT_FAILURE)
    if strict and any(r.warnings for r in record.results):
        raise typer.Exit(EXIT_STRICT)


def _shown_path(path: Path) -> str:
    """``path`` relative to the working directory when it is below it (shorter in tables), else absolute."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
