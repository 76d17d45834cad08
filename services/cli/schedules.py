"""``cues schedule …``: validate schedule files, run one occurrence, serve a folder of schedules, list runs."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Annotated

import typer

from cues.pipelines.store import open_store, parse_store_uri
from cues.schemas.config import GenerateConfig, RayConfig
from cues.schemas.errors import BriefError, InvalidRequest, ScheduleError, ScoringError
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
    store: Store = None,
    ray_address: RayAddress = None,
    workers: Workers = None,
    worker_cpus: WorkerCpus = GenerateConfig.model_fields["worker_cpus"].default,
) -> None:
    """Run one occurrence of a schedule now: the most recent cron time at or before --at (not in the future). An
    occurrence makes one batch: running it again reports it done (or completes what a failed run left missing).
    Exits 1 when another scheduler holds its claim (busy) or its batch has failed cues.

    Example: cues schedule run schedules/ad-library-weekly.yaml --at 2026-11-23T03:00Z
    """
    from cues.services.scheduler import read_schedule, requested_occurrence, run_occurrence  # the job: torch, Ray

    with reported_errors():
        schedule = read_schedule(file)
        _say_own_store(schedule, store)
        store = store or DEFAULT_STORE
        when, resolved = requested_occurrence(schedule, at, dt.datetime.now(dt.UTC))
        if resolved:
            out.print(resolved, markup=False)
        outcome = run_occurrence(schedule, str(file), when, _base_config(store, ray_address, workers, worker_cpus))
    _show(outcome)
    if outcome.state == "busy" or (outcome.status and outcome.status != "rendered"):
        raise typer.Exit(EXIT_FAILURE)


@commands.command("serve")
def schedule_serve(
    folder: Annotated[Path, typer.Argument(help="A folder of schedule files (or one file).")],
    store: Store = None,
    ray_address: RayAddress = None,
    poll: Annotated[float, typer.Option(min=1, help="Seconds between checks for due occurrences.")] = 30.0,
    once: Annotated[bool, typer.Option("--once", help="Check once, run what is due, and exit.")] = False,
    workers: Workers = None,
    worker_cpus: WorkerCpus = GenerateConfig.model_fields["worker_cpus"].default,
) -> None:
    """Run schedules as their occurrences come due, until stopped. Safe to run twice or to restart: each
    occurrence runs at most once (its claim and result are kept in the store). Occurrences missed while nothing
    ran are reported, and only the most recent one is run. A schedule's first sighting starts its clock. With
    --once, exits 2 if a schedule file is invalid, else 1 if a run failed.

    Example: cues schedule serve schedules/ --store s3://acme-music/cues
    """
    from cues.services.scheduler import (
        ScheduleState,
        due,
        occurrences_after,
        read_schedule,
        run_occurrence,
        schedule_files,
        stamp,
    )

    given, store = store, store or DEFAULT_STORE
    base = _base_config(store, ray_address, workers, worker_cpus)
    first = True
    while True:
        exit_code = 0
        paths = schedule_files(folder)
        if not paths and (once or first):
            out.print(f"no schedule files (*.yaml, *.yml) in {folder}", markup=False)
        for path in paths:
            try:
                schedule = read_schedule(path)
                if first:
                    _say_own_store(schedule, given)
                state = ScheduleState(open_store(schedule.store or store), schedule.name)
                now = dt.datetime.now(dt.UTC)
                when, missed = due(schedule, state, now)
                if when is None:
                    if once:  # a long-running serve stays quiet between occurrences
                        (upcoming,) = occurrences_after(schedule, now)
                        out.print(f"{schedule.name}: nothing due; next occurrence {stamp(upcoming)}", markup=False)
                    continue
                if missed:
                    out.print(f"{schedule.name}: {missed} occurrence(s) missed; running the most recent")
                _show(run_occurrence(schedule, str(path), when, base))
            except ScoringError as error:  # one bad schedule or failed run never stops the others
                exit_code = max(exit_code, _report(path, error))
        if once:
            raise typer.Exit(exit_code)
        first = False
        time.sleep(poll)


def _say_own_store(schedule, store: str | None) -> None:
    """A schedule's ``store:`` wins over ``--store``: when one was given (flag or CUES_STORE) and differs, say so,
    so results are never looked for in the wrong place."""
    if store and schedule.store and parse_store_uri(schedule.store) != parse_store_uri(store):
        line = f"{schedule.name}: results go to the schedule's own store {schedule.store}, not {store}"
        err.print(line, markup=False)


def _report(path: Path, error: ScoringError) -> int:
    """One line on stderr for a schedule that could not be read or run; its exit status (2 invalid, 1 failed)."""
    text = str(error)
    err.print(f"Error: {text if text.startswith(str(path)) else f'{path}: {text}'}", markup=False)
    return EXIT_INVALID if isinstance(error, BriefError | InvalidRequest) else EXIT_FAILURE


@commands.command("list")
def schedule_list(
    folder: Annotated[Path, typer.Argument(help="A folder of schedule files (or one file).")],
    store: Store = None,
    upcoming: Annotated[int, typer.Option(min=1, help="How many next times to show.")] = 3,
) -> None:
    """Each schedule's next times, and its last runs with their outcome (keep_last of them, default 5). A bad
    schedule file is reported and the others are still listed; then it exits 2.

    Example: cues schedule list schedules/ --store s3://acme-music/cues
    """
    from cues.services.scheduler import ScheduleState, occurrences_after, read_schedule, schedule_files, stamp

    now = dt.datetime.now(dt.UTC)
    exit_code = 0
    paths = schedule_files(folder)
    if not paths:
        out.print(f"no schedule files (*.yaml, *.yml) in {folder}", markup=False)
    for path in paths:
        try:
            schedule = read_schedule(path)
            state = ScheduleState(open_store(schedule.store or store or DEFAULT_STORE), schedule.name)
            nexts = ", ".join(stamp(t) for t in occurrences_after(schedule, now, upcoming))
            runs = state.runs()[-(schedule.keep_last or 5) :]
            lines = [_run_line(state, path, occurrence, result, now) for occurrence, result in runs]
        except ScoringError as error:  # one bad schedule never hides the others
            exit_code = max(exit_code, _report(path, error))
            continue
        own = f"  store {schedule.store} (its own)" if schedule.store else ""
        out.print(f"[bold]{schedule.name}[/bold]  cron '{schedule.cron}' {schedule.timezone}  next: {nexts}{own}")
        for line in lines or ["no runs yet"]:
            out.print(f"  {line}", markup=False)
    raise typer.Exit(exit_code)


def _run_line(state, path: Path, occurrence: str, result: dict | None, now: dt.datetime) -> str:
    """A finished run's outcome, or what holds an unfinished one and the command that completes it."""
    from cues.services.scheduler import stamp

    if result is not None:
        return (
            f"{occurrence}  {result['status']}  batch {result['batch_id']}  {result['cues']} cues, "
            f"{result['failed_cues']} failed, finished {result['finished']}"
        )
    command = f"`cues schedule run {path} --at {occurrence}`"
    held = state.holder(occurrence)
    if held is None:
        return f"{occurrence}  interrupted (no result, no claim): {command} completes it"
    why = held.stale(now)
    if why:
        return f"{occurrence}  interrupted ({why}): {command} completes it"
    return (
        f"{occurrence}  running since {stamp(held.claimed)} ({held.owner}, its claim lasts until "
        f"{stamp(held.expires)}); if that scheduler is gone, {command} completes it once the claim has expired, "
        f"or at once on {held.host}"
    )
