"""Running schedules (``docs/contracts/schedule-v1.md``): which cron occurrence is due, and running it at most once.

An occurrence is identified by its time in UTC (``2026-11-23T03:00Z``); that time is part of its batch's id, so
one occurrence makes one batch however often it is run, and running it again only completes what is missing.
Its state lives in the store, beside the batches, so any number of schedulers share it:

``schedules/<name>/state.json``                 when the schedule was first seen (occurrences before are not due)
``schedules/<name>/runs/<stamp>/claim.json``    who is running it, until when (written if absent: one winner)
``schedules/<name>/runs/<stamp>/result.json``   its batch id and outcome, written when it finished

A claim is a lease: a scheduler that died mid-run leaves a claim that expires, and the next one takes over and
completes the same batch. Missed occurrences (nothing ran for a while) are reported and only the most recent one
is run: no storm of catch-up runs.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from croniter import croniter

from cues.pipelines.generate.brief_sources import read_sources
from cues.pipelines.generate.job import run as run_job
from cues.pipelines.store import ObjectStore, open_store
from cues.schemas.batch import BatchRecord
from cues.schemas.brief import Brief
from cues.schemas.brief_file import BriefEntry
from cues.schemas.config import GenerateConfig
from cues.schemas.errors import ScheduleError, StoreConflict, StoreNotFound
from cues.schemas.schedule import Schedule, read_schedule_bytes

log = logging.getLogger(__name__)

LEASE = dt.timedelta(hours=6)  # a claim older than this, without a result, is taken over
STAMP = "%Y-%m-%dT%H:%MZ"


def stamp(when: dt.datetime) -> str:
    """An occurrence's id: its UTC time to the minute (cron's resolution)."""
    return when.astimezone(dt.UTC).strftime(STAMP)


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time for ``--at``; without a zone it is UTC."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ScheduleError(f"--at {text!r} is not a time; use ISO 8601, e.g. 2026-11-23T03:00Z") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def occurrence_at(schedule: Schedule, at: dt.datetime) -> dt.datetime:
    """The most recent cron time at or before ``at`` (in the schedule's time zone), in UTC."""
    local = at.astimezone(zoneinfo.ZoneInfo(schedule.timezone))
    probe = local + dt.timedelta(seconds=1)  # croniter's get_prev is strict: an exact hit counts as due
    return croniter(schedule.cron, probe).get_prev(dt.datetime).astimezone(dt.UTC)


def occurrences_after(schedule: Schedule, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
    """The next ``count`` cron times after ``after``, in UTC."""
    it = croniter(schedule.cron, after.astimezone(zoneinfo.ZoneInfo(schedule.timezone)))
    return [it.get_next(dt.datetime).astimezone(dt.UTC) for _ in range(count)]


def occurrences_between(schedule: Schedule, start: dt.datetime, end: dt.datetime, limit: int = 1000) -> int:
    """How many cron times fall in (start, end] (at most ``limit``: it is for reporting missed runs)."""
    it = croniter(schedule.cron, start.astimezone(zoneinfo.ZoneInfo(schedule.timezone)))
    count = 0
    while count < limit and it.get_next(dt.datetime).astimezone(dt.UTC) <= end:
        count += 1
    return count


def read_schedule(path: str | Path) -> Schedule:
    path = Path(path)
    try:
        return read_schedule_bytes(path.read_bytes(), str(path))
    except OSError as err:
        raise ScheduleError(f"{path}: cannot read: {err.strerror or err}") from None


def schedule_files(folder: str | Path) -> list[Path]:
    """The schedule files of a folder (``*.yaml``/``*.yml``, recursive, sorted); a file is itself."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def schedule_entries(schedule: Schedule, source: str) -> list[BriefEntry]:
    """The briefs of one run: those of the schedule's sources, then its matrix briefs (deterministic ids)."""

    entries = read_sources(schedule.briefs) if schedule.briefs else []
    for position, raw in enumerate(schedule.matrix_briefs(), start=1):
        entries.append(BriefEntry(f"{source} (matrix)", position, Brief.model_validate(raw)))
    return entries


@dataclass(frozen=True)
class RunOutcome:
    """What ``run_occurrence`` did: ``ran`` (now), ``done`` (already finished), ``busy`` (another holds it)."""

    schedule: str
    occurrence: str
    state: str
    batch_id: str | None = None
    status: str | None = None
    message: str = ""


class ScheduleState:
    """A schedule's runs in the store."""

    def __init__(self, store: ObjectStore, name: str):
        self.store, self.name = store, name

    def run_key(self, occurrence: str, file: str) -> str:
        return f"schedules/{self.name}/runs/{occurrence}/{file}"

    def first_seen(self, now: dt.datetime) -> dt.datetime:
        """When this schedule was first seen (recorded now if never)."""
        key = f"schedules/{self.name}/state.json"
        try:
            self.store.put_bytes(key, json.dumps({"first_seen": now.isoformat()}).encode(), if_absent=True)
            return now
        except StoreConflict:
            return dt.datetime.fromisoformat(json.loads(self.store.get_bytes(key))["first_seen"])

    def result(self, occurrence: str) -> dict | None:
        try:
            return json.loads(self.store.get_bytes(self.run_key(occurrence, "result.json")))
        except StoreNotFound:
            return None

    def runs(self) -> list[tuple[str, dict | None]]:
        """(occurrence, result or None while running) of every run, oldest first."""
        seen = {}
        for key in self.store.list(f"schedules/{self.name}/runs/"):
            occurrence = key.split("/")[3]
            seen.setdefault(occurrence, None)
            if key.endswith("/result.json"):
                seen[occurrence] = json.loads(self.store.get_bytes(key))
        return sorted(seen.items())

    def claim(self, occurrence: str, now: dt.datetime) -> bool:
        """Take the lease on ``occurrence``; False if another scheduler holds a live one."""
        key = self.run_key(occurrence, "claim.json")
        body = {
            "owner": f"{socket.gethostname()}:{os.getpid()}",
            "claimed": now.isoformat(),
            "expires": (now + LEASE).isoformat(),
        }
        try:
            self.store.put_bytes(key, json.dumps(body).encode(), if_absent=True)
            return True
        except StoreConflict:
            held = json.loads(self.store.get_bytes(key))
            if dt.datetime.fromisoformat(held["expires"]) > now:
                return False
            log.warning("the claim of %s %s by %s expired: taking over", self.name, occurrence, held["owner"])
            self.store.delete(key)
            try:
                self.store.put_bytes(key, json.dumps(body).encode(), if_absent=True)
                return True
            except StoreConflict:  # another scheduler took it over first
                return False

    def finish(self, occurrence: str, record: BatchRecord) -> dict:
        result = {
            "occurrence": occurrence,
            "batch_id": record.batch_id,
            "status": record.status,
            "cues": len(record.results),
            "failed_cues": len(record.failed_cues),
            "invalid_briefs": len(record.failures),
            "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        self.store.put_bytes(self.run_key(occurrence, "result.json"), json.dumps(result, indent=2).encode())
        self.store.delete(self.run_key(occurrence, "claim.json"))
        return result


def run_occurrence(
    schedule: Schedule,
    source: str,
    when: dt.datetime,
    base: GenerateConfig,
    on_progress: Callable[[str, int, int], None] | None = None,
    now: dt.datetime | None = None,
) -> RunOutcome:
    """Run the occurrence at ``when`` unless it finished or another scheduler is running it."""

    now = now or dt.datetime.now(dt.UTC)
    occurrence = stamp(when)
    config = base.model_copy(
        update={
            "sources": tuple(schedule.briefs) or (source,),
            "store": schedule.store or base.store,
            "schedule": schedule.name,
            "occurrence": occurrence,
        }
    )
    state = ScheduleState(open_store(config.store), schedule.name)
    done = state.result(occurrence)
    if done:
        return RunOutcome(schedule.name, occurrence, "done", done["batch_id"], done["status"], "already ran")
    if not state.claim(occurrence, now):
        return RunOutcome(schedule.name, occurrence, "busy", message="another scheduler is running it")
    record = run_job(config, on_progress, entries=schedule_entries(schedule, source))
    result = state.finish(occurrence, record)
    return RunOutcome(schedule.name, occurrence, "ran", result["batch_id"], result["status"])


def due(schedule: Schedule, state: ScheduleState, now: dt.datetime) -> tuple[dt.datetime | None, int]:
    """The occurrence to run now, if any, and how many earlier ones were missed (never run)."""
    latest = occurrence_at(schedule, now)
    first_seen = state.first_seen(now)
    if latest < first_seen.replace(second=0, microsecond=0):
        return None, 0  # nothing has come due since the schedule was first seen
    if state.result(stamp(latest)):
        return None, 0
    finished = [dt.datetime.strptime(o, STAMP).replace(tzinfo=dt.UTC) for o, r in state.runs() if r]
    since = max([first_seen, *finished])
    missed = max(0, occurrences_between(schedule, since, latest) - 1)
    return latest, missed
