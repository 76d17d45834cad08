"""Running schedules (``docs/contracts/schedule-v1.md``): which cron occurrence is due, and running it at most once.

An occurrence is identified by its time in UTC (``2026-11-23T03:00Z``); that time is part of its batch's id, so
one occurrence makes one batch however often it is run, and running it again only completes what is missing.
Its state lives in the store, beside the batches, so any number of schedulers share it:

``schedules/<name>/state.json``                 when the schedule was first seen (occurrences before are not due)
``schedules/<name>/runs/<stamp>/claim.json``    who is running it, until when (written if absent: one winner)
``schedules/<name>/runs/<stamp>/takeovers/<t>`` who took over the claim with token ``t`` (written if absent)
``schedules/<name>/runs/<stamp>/result.json``   its batch id and outcome, written when it finished

A claim is a lease: a run that fails or is interrupted (Ctrl-C) removes its claim on the way out; a scheduler that
died mid-run leaves a claim that expires, and the next one takes over and completes the same batch. A claim whose
process is gone from this host is taken over at once. Missed occurrences (nothing ran for a while) are reported and
only the most recent one is run: no storm of catch-up runs.

Decisions where the contract was silent:

- Two schedulers that see the same stale claim both try to write ``takeovers/<its token>`` if absent; only the one
  that wrote it replaces the claim, so they cannot both run the occurrence. The markers are kept (a few bytes each):
  deleting one would let a late taker of the same stale claim win again.
- After winning a claim the scheduler looks for a result once more: a run that finished in between is not repeated.
- A claim is a process's (``<host>:<pid>``): on the same host a claim whose pid is gone is stale; on another host
  only its lease tells (a host name is taken to name one machine).
- ``--at`` is a time from 1970 up to now: a time in the future would run (and mark done) an occurrence not yet due.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import logging
import os
import socket
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from croniter import CroniterError, croniter

from cues.pipelines.generate.brief_sources import read_sources
from cues.pipelines.generate.job import run as run_job
from cues.pipelines.store import ObjectStore, open_store
from cues.schemas.batch import BatchRecord
from cues.schemas.brief import Brief
from cues.schemas.brief_file import BriefEntry
from cues.schemas.config import GenerateConfig
from cues.schemas.errors import InvalidRequest, Problem, ScheduleError, StoreConflict, StoreError, StoreNotFound
from cues.schemas.schedule import Schedule, occurrence_seed, read_schedule_bytes

log = logging.getLogger(__name__)

LEASE = dt.timedelta(hours=6)  # a claim older than this, without a result, is taken over
STAMP = "%Y-%m-%dT%H:%MZ"
EARLIEST = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # --at before this is refused (no schedule ran before the epoch)


def stamp(when: dt.datetime) -> str:
    """An occurrence's id: its UTC time to the minute (cron's resolution)."""
    return when.astimezone(dt.UTC).strftime(STAMP)


def parse_time(text: str) -> dt.datetime:
    """An ISO 8601 time for ``--at`` (a date alone is 00:00 of that day); without a zone it is UTC."""
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidRequest(f"--at {text!r} is not a time; use ISO 8601, e.g. 2026-11-23T03:00Z") from None
    value = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if value.year < EARLIEST.year or value < EARLIEST:  # the year first: year 1 east of UTC cannot be converted
        raise InvalidRequest(f"--at {text!r} is before 1970; use a time from 1970-01-01 up to now")
    return value


def requested_occurrence(schedule: Schedule, at: str | None, now: dt.datetime) -> tuple[dt.datetime, str]:
    """The occurrence ``cues schedule run --at`` means: the most recent cron time at or before ``at`` (default
    ``now``), and a line saying how ``at`` resolved (empty when it names the occurrence exactly).

    Raises :class:`InvalidRequest` for a time that is not one, before 1970, or in the future (what is not due yet
    would be run and marked done)."""
    if at is None:
        return occurrence_at(schedule, now), ""
    when = parse_time(at)
    if when > now:
        (next_due,) = occurrences_after(schedule, now)
        raise InvalidRequest(
            f"--at {at!r} is in the future: nothing is due then yet; the next occurrence comes due at {stamp(next_due)}"
        )
    occurrence = occurrence_at(schedule, when)
    if occurrence == when:
        return occurrence, ""
    try:
        dt.date.fromisoformat(at)
        alone = " (a date alone is the start of that day, UTC)"
    except ValueError:
        alone = ""
    return occurrence, f"--at {at} is {stamp(when)}{alone}; the occurrence at or before it is {stamp(occurrence)}"


def _cron_times(schedule: Schedule, start: dt.datetime, forward: bool) -> Iterator[dt.datetime]:
    """The schedule's cron times after (or before) ``start``, nearest first, in UTC.

    Raises :class:`ScheduleError` when there is none (an expression that matches no date, or the end of the
    calendar), never croniter's own errors."""
    try:
        it = croniter(schedule.cron, start.astimezone(zoneinfo.ZoneInfo(schedule.timezone)))
        while True:
            yield (it.get_next(dt.datetime) if forward else it.get_prev(dt.datetime)).astimezone(dt.UTC)
    except (CroniterError, OverflowError, ValueError):
        where = f"{'after' if forward else 'before'} {stamp(start)}"
        raise ScheduleError(
            [Problem("cron", f"no time matches {schedule.cron!r} {where}")], "", schedule.name
        ) from None


def occurrence_at(schedule: Schedule, at: dt.datetime) -> dt.datetime:
    """The most recent cron time at or before ``at`` (in the schedule's time zone), in UTC."""
    probe = at + dt.timedelta(seconds=1)  # croniter's get_prev is strict: an exact hit counts as due
    return next(_cron_times(schedule, probe, forward=False))


def occurrences_after(schedule: Schedule, after: dt.datetime, count: int = 1) -> list[dt.datetime]:
    """The next ``count`` cron times after ``after``, in UTC."""
    return list(itertools.islice(_cron_times(schedule, after, forward=True), count))


def occurrences_between(schedule: Schedule, start: dt.datetime, end: dt.datetime, limit: int = 1000) -> int:
    """How many cron times fall in (start, end] (at most ``limit``: it is for reporting missed runs)."""
    times = itertools.islice(_cron_times(schedule, start, forward=True), limit)
    return sum(1 for _ in itertools.takewhile(lambda t: t <= end, times))


def read_schedule(path: str | Path) -> Schedule:
    path = Path(path)
    try:
        return read_schedule_bytes(path.read_bytes(), str(path))
    except OSError as err:
        raise ScheduleError([Problem("", f"cannot read: {err.strerror or err}")], str(path)) from None


def schedule_files(folder: str | Path) -> list[Path]:
    """The schedule files of a folder (``*.yaml``/``*.yml``, recursive, sorted); a file is itself."""
    folder = Path(folder)
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yaml", ".yml") and p.is_file())


def schedule_entries(schedule: Schedule, source: str, occurrence: str | None = None) -> list[BriefEntry]:
    """The briefs of one run: those of the schedule's sources, then its matrix briefs (deterministic ids). With
    ``seed: per_occurrence``, each brief without a seed of its own gets the occurrence's (``occurrence_seed``)."""

    entries = read_sources(schedule.briefs) if schedule.briefs else []
    for position, raw in enumerate(schedule.matrix_briefs(), start=1):
        entries.append(BriefEntry(f"{source} (matrix)", position, Brief.model_validate(raw)))
    if schedule.seed == "per_occurrence" and occurrence is not None:
        entries = [
            replace(e, brief=e.brief.model_copy(update={"seed": occurrence_seed(e.brief, occurrence)}))
            if e.ok
            else e
            for e in entries
        ]
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

    def holder(self, occurrence: str) -> Claim | None:
        """The claim on ``occurrence``, if any."""
        try:
            return Claim.of(self.store.get_bytes(self.run_key(occurrence, "claim.json")))
        except StoreNotFound:
            return None

    def claim(self, occurrence: str, now: dt.datetime) -> str | None:
        """Take the lease on ``occurrence``: its token, or None if another scheduler holds a live one."""
        for _ in range(2):  # a second try when the claim went away between our write and our read
            token = self._write_claim(occurrence, now)
            if token:
                return token
            held = self.holder(occurrence)
            if held is None:
                continue
            why = held.stale(now)
            if not why:
                return None
            log.warning("%s %s: %s; taking over", self.name, occurrence, why)
            return self.take_over(occurrence, held, now)
        return None

    def take_over(self, occurrence: str, held: Claim, now: dt.datetime) -> str | None:
        """Replace the stale claim ``held`` with ours: our token, or None if another scheduler took it over first.

        Of all schedulers taking over the same claim, only the one that writes ``takeovers/<its token>`` (if
        absent) replaces it; the others never touch the claim."""
        marker = {"by": _owner(), "at": now.isoformat()}
        try:
            self.store.put_bytes(
                self.run_key(occurrence, f"takeovers/{held.token}"), json.dumps(marker).encode(), if_absent=True
            )
        except StoreConflict:
            return None
        self.store.delete(self.run_key(occurrence, "claim.json"))
        return self._write_claim(occurrence, now)

    def release(self, occurrence: str, token: str) -> None:
        """Remove our claim (``token``), so the occurrence can be run again at once; a store error only logs."""
        try:
            held = self.holder(occurrence)
            if held is not None and held.token == token:
                self.store.delete(self.run_key(occurrence, "claim.json"))
        except StoreError as err:
            log.warning("could not release the claim of %s %s (it expires by itself): %s", self.name, occurrence, err)

    def _write_claim(self, occurrence: str, now: dt.datetime) -> str | None:
        token = uuid.uuid4().hex
        body = {"owner": _owner(), "token": token, "claimed": now.isoformat(), "expires": (now + LEASE).isoformat()}
        try:
            self.store.put_bytes(self.run_key(occurrence, "claim.json"), json.dumps(body).encode(), if_absent=True)
            return token
        except StoreConflict:
            return None

    def finish(self, occurrence: str, record: BatchRecord) -> dict:
        """Write the occurrence's result (the claim is released by whoever holds it)."""
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
        return result


def _owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(frozen=True)
class Claim:
    """A scheduler's lease on one occurrence (``claim.json``): ``owner`` is ``<host>:<pid>``; ``token`` names this
    very claim (a takeover marker is keyed by it); ``expires`` is ``claimed`` + :data:`LEASE`."""

    owner: str
    token: str
    claimed: dt.datetime | None
    expires: dt.datetime | None

    @classmethod
    def of(cls, data: bytes) -> Claim:
        """The claim stored as ``data``; a claim without a token (older versions) is named by its content's hash,
        and one that cannot be read has no times (it is stale)."""
        token = hashlib.sha256(data).hexdigest()[:32]
        try:
            body = json.loads(data)
            return cls(
                str(body["owner"]),
                str(body.get("token") or token),
                dt.datetime.fromisoformat(body["claimed"]),
                dt.datetime.fromisoformat(body["expires"]),
            )
        except (ValueError, KeyError, TypeError):
            return cls("unknown", token, None, None)

    def stale(self, now: dt.datetime) -> str:
        """Why this claim may be taken over (its lease expired, or its process is gone from this host), or ""."""
        if self.expires is None:
            return "the claim cannot be read"
        if self.expires <= now:
            return f"the claim of {self.owner} expired at {stamp(self.expires)}"
        if self.host == socket.gethostname() and self.pid and not _alive(self.pid):
            return f"the claim of {self.owner} outlived its process"
        return ""

    @property
    def host(self) -> str:
        return self.owner.rpartition(":")[0]

    @property
    def pid(self) -> int | None:
        pid = self.owner.rpartition(":")[2]
        return int(pid) if pid.isdigit() and int(pid) > 0 else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is another user's (PermissionError), or we cannot tell: assume alive
        return True
    return True


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
    token = state.claim(occurrence, now)
    if not token:
        held = state.holder(occurrence)
        who = f" ({held.owner}, its claim lasts until {stamp(held.expires)})" if held and held.expires else ""
        return RunOutcome(schedule.name, occurrence, "busy", message=f"another scheduler is running it{who}")
    try:  # whatever happens (an error, Ctrl-C), the claim goes: the next run need not wait for the lease
        done = state.result(occurrence)  # it finished while we were claiming it
        if done:
            return RunOutcome(schedule.name, occurrence, "done", done["batch_id"], done["status"], "already ran")
        record = run_job(config, on_progress, entries=schedule_entries(schedule, source, occurrence))
        result = state.finish(occurrence, record)
    finally:
        state.release(occurrence, token)
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
