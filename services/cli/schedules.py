"""``cues schedule …``: validate schedule files, run one occurrence, serve a folder of schedules, list runs."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer

from cues.pipelines.store import open_store
from cues.schemas.config import GenerateConfig, RayConfig
from cues.schemas.errors import ScheduleError, ScoringError
from cues.schemas.schedule import read_schedule_bytes
from cues.services.cli.options import DEFAULT_STORE, RayAddress, Store, WorkerCpus, Workers
from cues.services.cli.output import EXIT_FAILURE, EXIT_INVALID, err, out, reported_errors

commands = typer.Typer(
    help="Scheduled bulk generation (schedule files, docs/contracts/schedule-v1.md).", no_args_is_help=True
)


@commands.command("validate")
def schedule_validate(
    files: Annotated[list[Path], typer.Argument(help="Schedule files (YAML).", show_default=False)],
) -> None:
    """Check schedule files, including every brief their matrix expands to. Exits 2 if any is invalid.

    Example: cues schedule validate schedules/ad-library-weekly.yaml
    """

    invalid = 0
    for path in files:
        try:
            schedule = read_schedule_bytes(path.read_bytes(), str(path))
        except ScheduleError as error:
            invalid += 1
            out.print(f"[red]invalid[/red]  {error.describe()}", markup=True)
            continue
        except OSError as error:
            invalid += 1
            out.print(f"[red]invalid[/red]  {path}: cannot read: {error.strerror or error}", markup=True)
            continue
        count = len(schedule.matrix_briefs())
        detail = f"{count} matrix brief{'s' * (count != 1)}" + (
            f", {len(schedule.briefs)} sources" if schedule.briefs else ""
        )
        out.print(
            f"[green]ok[/green]       {path}  {schedule.name}  cron '{schedule.cron}' {schedule.timezone}, {detail}"
        )
    if invalid:
        raise typer.Exit(EXIT_INVALID)


def _base_config(store: str, ray_address: str | None, workers: int | None, worker_cpus: float) -> GenerateConfig:
    return GenerateConfig(
        sources=("schedule",),
        store=store,
        workers=workers,
        worker_cpus=worker_cpus,
        ray=RayConfig(address=ray_address),
    )


def _show(outcome) -> None:
    line = f"{outcome.schedule} {outcome.occurrence}: {outcome.state}"
    if outcome.batch_id:
        line += f", batch {outcome.batch_id} ({outcome.status})"
    if outcome.message:
        line += f" — {outcome.message}"
    out.print(line, markup=False)


@commands.command("run")
def schedule_run(
    file: Annotated[Path, typer.Argument(help="A schedule file (YAML).")],
    at: Annotated[
        str | None,
        typer.Option(
            help="Run the occurrence due at this time (ISO 8601, UTC unless given); default: now.", show_default=False
        ),
    ] = None,
    store: Store = DEFAULT_STORE,
    ray_address: RayAddress = None,
    workers: Workers = None,
    worker_cpus: WorkerCpus = GenerateConfig.model_fields["worker_cpus"].default,
) -> None:
    """Run one occurrence of a schedule now: the most recent cron time at or before --at. An occurrence makes one
    batch: running it again reports it done (or completes what a crashed run left missing).

    Example: cues schedule run schedules/ad-library-weekly.yaml --at 2026-11-23T03:00Z
    """
    from cues.services.scheduler import occurrence_at, parse_time, read_schedule, run_occurrence  # the job: torch, Ray

    with reported_errors():
        schedule = read_schedule(file)
        when = occurrence_at(schedule, parse_time(at) if at else dt.datetime.now(dt.UTC))
        outcome = run_occurrence(schedule, str(file), when, _base_config(store, ray_address, workers, worker_cpus))
    _show(outcome)
    if outcome.status and outcome.status != "rendered":
        raise typer.Exit(EXIT_FAILURE)


@commands.command("serve")
def schedule_serve(
    folder: Annotated[Path, typer.Argument(help="A folder of schedule files (or one file).")],
    store: Store = DEFAULT_STORE,
    ray_address: RayAddress = None,
    poll: Annotated[float, typer.Option(min=1, help="Seconds between checks for due occurrences.")] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="Check once, run what is due, and exit.")] = False,
    workers: Workers = None,
    worker_cpus: WorkerCpus = GenerateConfig.model_fields["worker_cpus"].default,
) -> None:
    """Run schedules as their occurrences come due, until stopped. Safe to run twice or to restart: each
    occurrence runs at most once (its claim and result are kept in the store). Occurrences missed while nothing
    ran are reported, and only the most recent one is run. A schedule's first sighting starts its clock.

    Example: cues schedule serve schedules/ --store s3://acme-music/cues
    """
    from cues.services.scheduler import ScheduleState, due, read_schedule, run_occurrence, schedule_files

    base = _base_config(store, ray_address, workers, worker_cpus)
    while True:
        for path in schedule_files(folder):
            try:
                schedule = read_schedule(path)
                state = ScheduleState(open_store(schedule.store or store), schedule.name)
                when, missed = due(schedule, state, dt.datetime.now(dt.UTC))
                if when is None:
                    continue
                if missed:
                    out.print(f"{schedule.name}: {missed} occurrence(s) missed; running the most recent")
                _show(run_occurrence(schedule, str(path), when, base))
            except ScoringError as error:  # one bad schedule or failed run never stops the others
                err.print(f"Error: {path}: {error}", markup=False)
        if once:
            return
        time.sleep(poll)


@commands.command("list")
def schedule_list(
    folder: Annotated[Path, typer.Argument(help="A folder of schedule files (or one file).")],
    store: Store = DEFAULT_STORE,
    upcoming: Annotated[int, typer.Option(min=1, help="How many next times to show.")] = 3,
) -> None:
    """Each schedule's next times, and its last runs with their outcome (keep_last of them, default 5).

    Example: cues schedule list schedules/ --store s3://acme-music/cues
    """
    from cues.services.scheduler import ScheduleState, occurrences_after, read_schedule, schedule_files, stamp

    now = dt.datetime.now(dt.UTC)
    with reported_errors():
        for path in schedule_files(folder):
            schedule = read_schedule(path)
            state = ScheduleState(open_store(schedule.store or store), schedule.name)
            nexts = ", ".join(stamp(t) for t in occurrences_after(schedule, now, upcoming))
            out.print(f"[bold]{schedule.name}[/bold]  cron '{schedule.cron}' {schedule.timezone}  next: {nexts}")
            runs = state.runs()[-(schedule.keep_last or 5) :]
            if not runs:
                out.print("  no runs yet")
            for occurrence, result in runs:
                if result is None:
                    out.print(f"  {occurrence}  running (or interrupted; `cues schedule run` completes it)")
                else:
                    out.print(
                        f"  {occurrence}  {result['status']}  batch {result['batch_id']}  {result['cues']} cues, "
                        f"{result['failed_cues']} failed, finished {result['finished']}"
                    )
