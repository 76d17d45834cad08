"""Schedules without Ray: reading schedule files, resolving ``--at``, claims (interrupted runs, dead owners, two
schedulers taking over one expired claim) and ``cues schedule validate/run/list/serve`` on bad files.

Runs here make no cues (a missing soundfont, a brief source that yields no brief, an occurrence already done), so
no test needs the session's Ray instance."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cues.pipelines.generate.expansion import expand_cues
from cues.pipelines.store import open_store
from cues.schemas.config import GenerateConfig, RenderConfig
from cues.schemas.errors import InvalidRequest, Problem, ScheduleError, SoundfontMissing
from cues.schemas.schedule import Schedule, read_schedule_bytes
from cues.services.cli.app import app
from cues.services.scheduler import (
    LEASE,
    ScheduleState,
    occurrence_at,
    occurrences_after,
    read_schedule,
    requested_occurrence,
    run_occurrence,
    schedule_entries,
    stamp,
)

runner = CliRunner()
OCCURRENCE = "2026-11-23T03:00Z"  # a Monday 03:00 UTC
MONDAY = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)


def cues(*args: str):
    return runner.invoke(app, list(args), terminal_width=400)


def weekly(folder: Path, store: Path, body: str = "template: {medium: ad, length: 6}\nmatrix: {mood: [happy]}\n"):
    path = folder / "weekly.yaml"
    path.write_text(f"name: weekly\ncron: '0 3 * * MON'\nstore: {store.as_uri()}\n{body}")
    return path


def claim_file(store: Path, name: str = "weekly", occurrence: str = OCCURRENCE) -> Path:
    return store / "schedules" / name / "runs" / occurrence / "claim.json"


def dead_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(process.stdout)  # reaped: the pid names no process now


def write_claim(store: Path, owner: str, claimed: dt.datetime, occurrence: str = OCCURRENCE) -> None:
    path = claim_file(store, occurrence=occurrence)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"owner": owner, "claimed": claimed.isoformat(), "expires": (claimed + LEASE).isoformat()}
    path.write_text(json.dumps(body))


# --- item 5: claims ---------------------------------------------------------------------------------------------


def test_a_run_that_fails_releases_its_claim(tmp_path):
    store = tmp_path / "store"
    path = weekly(tmp_path, store)
    schedule = read_schedule(path)
    base = GenerateConfig(sources=("schedule",), render=RenderConfig(soundfont=str(tmp_path / "missing.sf2")))
    for _ in range(2):  # the second run is not "busy": the first one's claim went with its failure
        with pytest.raises(SoundfontMissing):
            run_occurrence(schedule, str(path), MONDAY, base)
        assert not claim_file(store).exists()


def test_an_interrupted_run_releases_its_claim(tmp_path):
    store = tmp_path / "store"
    fifo = tmp_path / "briefs.yaml"
    os.mkfifo(fifo)  # reading it blocks until Ctrl-C (here: an alarm raising KeyboardInterrupt) stops the run
    path = weekly(tmp_path, store, f"briefs: [{fifo}]\n")
    schedule = read_schedule(path)

    def interrupt(*_):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, 0.5)
    try:
        with pytest.raises(KeyboardInterrupt):
            run_occurrence(schedule, str(path), MONDAY, GenerateConfig(sources=("schedule",)))
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert not claim_file(store).exists()
    assert ScheduleState(open_store(str(store)), "weekly").claim(OCCURRENCE, dt.datetime.now(dt.UTC))


def test_a_claim_whose_owner_died_on_this_host_is_taken_over(tmp_path):
    store = tmp_path / "store"
    state = ScheduleState(open_store(str(store)), "weekly")
    now = dt.datetime.now(dt.UTC)
    write_claim(store, f"{socket.gethostname()}:{os.getpid()}", now)  # alive: this process
    assert not state.claim(OCCURRENCE, now)
    write_claim(store, f"elsewhere.example:{dead_pid()}", now)  # another host: only its lease tells
    assert not state.claim(OCCURRENCE, now)
    write_claim(store, f"{socket.gethostname()}:{dead_pid()}", now)  # this host, process gone
    token = state.claim(OCCURRENCE, now)
    assert token and json.loads(claim_file(store).read_text())["token"] == token


def test_two_schedulers_taking_over_one_expired_claim_cannot_both_run_it(tmp_path):
    store = tmp_path / "store"
    first = ScheduleState(open_store(str(store)), "weekly")
    second = ScheduleState(open_store(str(store)), "weekly")
    write_claim(store, "elsewhere.example:7", MONDAY)
    later = MONDAY + LEASE + dt.timedelta(minutes=1)
    # both read the same expired claim, then both try to take it over
    seen_by_first, seen_by_second = first.holder(OCCURRENCE), second.holder(OCCURRENCE)
    assert seen_by_first == seen_by_second and seen_by_first.stale(later)
    token = first.take_over(OCCURRENCE, seen_by_first, later)
    assert token
    assert second.take_over(OCCURRENCE, seen_by_second, later) is None
    assert first.holder(OCCURRENCE).token == token  # the second did not delete the first one's claim
    assert not second.claim(OCCURRENCE, later)


def test_busy_exits_1_and_says_who_holds_the_claim(tmp_path):
    store = tmp_path / "store"
    path = weekly(tmp_path, store)
    claimed = dt.datetime.now(dt.UTC)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    write_claim(store, owner, claimed)
    result = cues("schedule", "run", str(path), "--at", OCCURRENCE)
    assert result.exit_code == 1, result.output
    expires = stamp(claimed + LEASE)
    assert result.output.endswith(
        f"weekly {OCCURRENCE}: busy — another scheduler is running it ({owner}, its claim lasts until {expires})\n"
    )


def test_list_says_how_an_unfinished_run_is_completed(tmp_path):
    store = tmp_path / "store"
    path = weekly(tmp_path, store)
    owner = f"{socket.gethostname()}:{os.getpid()}"
    claimed = dt.datetime.now(dt.UTC)
    write_claim(store, owner, claimed, "2026-11-30T03:00Z")  # live: this process, within its lease
    write_claim(store, "elsewhere.example:7", MONDAY)  # expired
    listing = cues("schedule", "list", str(path), "--store", str(store))
    assert listing.exit_code == 0, listing.output
    lines = listing.output.splitlines()
    assert lines[1] == (
        f"  {OCCURRENCE}  interrupted (the claim of elsewhere.example:7 expired at 2026-11-23T09:00Z): "
        f"`cues schedule run {path} --at {OCCURRENCE}` completes it"
    )
    assert lines[2] == (
        f"  2026-11-30T03:00Z  running since {stamp(claimed)} ({owner}, its claim lasts until "
        f"{stamp(claimed + LEASE)}); "
        f"if that scheduler is gone, `cues schedule run {path} --at 2026-11-30T03:00Z` completes it once the claim "
        f"has expired, or at once on {socket.gethostname()}"
    )


# --- item 6: a cron expression that never matches ---------------------------------------------------------------


def test_a_cron_that_never_matches_is_invalid(tmp_path):
    path = tmp_path / "feb.yaml"
    path.write_text("name: feb\ncron: '0 0 30 2 *'\ntemplate: {medium: ad, length: 6}\nmatrix: {mood: [happy]}\n")
    result = cues("schedule", "validate", str(path))
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"invalid  {path}: schedule 'feb': cron: matches no date (like 30 February), so it would never run; "
        "check the day of month, the month and the day of week (got '0 0 30 2 *')\n"
    )


def test_cron_errors_at_run_time_are_schedule_errors():
    # a schedule that skipped validation (model_construct), as an older version might have let through
    schedule = Schedule.model_construct(name="feb", cron="0 0 30 2 *", timezone="UTC")
    with pytest.raises(ScheduleError) as caught:
        occurrence_at(schedule, MONDAY)
    assert str(caught.value) == "schedule 'feb': cron: no time matches '0 0 30 2 *' before 2026-11-23T03:00Z"
    with pytest.raises(ScheduleError, match="^schedule 'feb': cron: no time matches '0 0 30 2 \\*' after "):
        occurrences_after(schedule, MONDAY)


def bad_and_good(tmp_path: Path, store: Path) -> Path:
    folder = tmp_path / "schedules"
    folder.mkdir()
    (folder / "a-feb.yaml").write_text(
        "name: feb\ncron: '0 0 30 2 *'\ntemplate: {medium: ad, length: 6}\nmatrix: {mood: [happy]}\n"
    )
    (folder / "b-broken.yaml").write_text("name: [\n")
    weekly(folder, store)
    return folder


def test_list_reports_a_bad_file_and_goes_on(tmp_path):
    store = tmp_path / "store"
    folder = bad_and_good(tmp_path, store)
    result = cues("schedule", "list", str(folder), "--store", str(store))
    assert result.exit_code == 2, result.output
    assert f"Error: {folder}/a-feb.yaml: schedule 'feb': cron: matches no date" in result.output
    assert f"Error: {folder}/b-broken.yaml: malformed YAML" in result.output
    assert "weekly  cron '0 3 * * MON' UTC  next: " in result.output


def test_serve_reports_a_bad_file_and_runs_the_others(tmp_path):
    store = tmp_path / "store"
    folder = bad_and_good(tmp_path, store)
    result = cues("schedule", "serve", str(folder), "--store", str(store), "--once")
    assert result.exit_code == 2, result.output
    assert f"Error: {folder}/a-feb.yaml: schedule 'feb': cron: matches no date" in result.output
    assert f"Error: {folder}/b-broken.yaml: malformed YAML" in result.output
    assert (store / "schedules/weekly/state.json").is_file()  # the good schedule was seen (its clock started)
    assert "weekly: nothing due; next occurrence 20" in result.output and "own store" not in result.output


def test_serve_and_list_say_what_they_found_and_where_results_go(tmp_path):
    store, elsewhere = tmp_path / "store", tmp_path / "elsewhere"
    empty = tmp_path / "empty"
    empty.mkdir()
    for command in (["list"], ["serve", "--once"]):
        result = cues("schedule", *command, str(empty), "--store", str(store))
        assert result.exit_code == 0 and f"no schedule files (*.yaml, *.yml) in {empty}" in result.output, command
    path = weekly(tmp_path, elsewhere)
    listed = cues("schedule", "list", str(path), "--store", str(store))
    assert f"store {elsewhere.as_uri()} (its own)" in listed.output
    served = cues("schedule", "serve", str(path), "--store", str(store), "--once")
    assert f"weekly: results go to the schedule's own store {elsewhere.as_uri()}, not {store}" in served.output
    assert (elsewhere / "schedules/weekly/state.json").is_file() and not store.exists()


# --- item 12: messages and --at ----------------------------------------------------------------------------------


def test_schedule_error_of_a_plain_string_reads_as_that_string():
    assert str(ScheduleError("the file is gone")) == "the file is gone"
    assert ScheduleError("the file is gone").problems == [Problem("", "the file is gone")]


def test_a_bad_at_and_a_missing_file_are_one_clear_line(tmp_path):
    store = tmp_path / "store"
    path = weekly(tmp_path, store)
    result = cues("schedule", "run", str(path), "--at", "nonsense")
    assert result.exit_code == 2
    assert result.output == "Error: --at 'nonsense' is not a time; use ISO 8601, e.g. 2026-11-23T03:00Z\n"
    result = cues("schedule", "run", str(tmp_path / "nofile.yaml"))
    assert result.exit_code == 2
    assert result.output == f"Error: {tmp_path}/nofile.yaml: cannot read: No such file or directory\n"


@pytest.mark.parametrize("at", ["0001-01-01T00:00Z", "1969-12-31T23:59Z"])
def test_an_at_before_1970_is_refused(tmp_path, at):
    path = weekly(tmp_path, tmp_path / "store")
    result = cues("schedule", "run", str(path), "--at", at)
    assert result.exit_code == 2, result.output
    assert result.output == f"Error: --at {at!r} is before 1970; use a time from 1970-01-01 up to now\n"


def test_a_date_alone_says_which_occurrence_it_means(tmp_path):
    store = tmp_path / "store"
    path = weekly(tmp_path, store)
    done = store / "schedules/weekly/runs" / OCCURRENCE / "result.json"
    done.parent.mkdir(parents=True)
    done.write_text(json.dumps({"batch_id": "b-0123456789ab", "status": "rendered"}))
    result = cues("schedule", "run", str(path), "--at", "2026-11-30")
    assert result.exit_code == 0, result.output
    assert result.output == (
        "--at 2026-11-30 is 2026-11-30T00:00Z (a date alone is the start of that day, UTC); the occurrence at or "
        f"before it is {OCCURRENCE}\n"
        f"weekly {OCCURRENCE}: done, batch b-0123456789ab (rendered) — already ran\n"
    )


@pytest.mark.parametrize("at", ["2030-06-01T00:00Z", "9999-12-31T23:59Z", "9999-12-31"])
def test_an_at_in_the_future_is_refused(tmp_path, at):
    store = tmp_path / "store"
    path = tmp_path / "yearly.yaml"
    path.write_text(f"name: yearly\ncron: '0 3 1 1 *'\nstore: {store.as_uri()}\nbriefs: [{tmp_path}/none.yaml]\n")
    next_due = f"{dt.datetime.now(dt.UTC).year + 1}-01-01T03:00Z"
    result = cues("schedule", "run", str(path), "--at", at)
    assert result.exit_code == 2, result.output
    assert result.output == (
        f"Error: --at {at!r} is in the future: nothing is due then yet; the next occurrence comes due at {next_due}\n"
    )
    assert not (store / "schedules/yearly/runs").exists()


def test_requested_occurrence_without_at_is_the_latest_due():
    schedule = Schedule(
        name="weekly",
        cron="0 3 * * MON",
        matrix={"mood": ["happy"]},
        template={"medium": "ad", "length": 6},
    )
    now = MONDAY + dt.timedelta(days=2)
    assert requested_occurrence(schedule, None, now) == (MONDAY, "")
    assert requested_occurrence(schedule, OCCURRENCE, now) == (MONDAY, "")
    with pytest.raises(InvalidRequest, match="is in the future"):
        requested_occurrence(schedule, "2026-11-25T03:01Z", now)


# --- item 4: keys that are not text, numbers too large ------------------------------------------------------------


def read(text: str) -> Schedule:
    return read_schedule_bytes(text.encode(), "s.yaml")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "matrix: {1: [film]}",
            "s.yaml: schedule 'k': matrix: key 1 is not text; keys are field names (quote it if it is text)",
        ),
        (
            "matrix: {mood: [happy]}\ntemplate: {null: film, length: 6}",
            "s.yaml: schedule 'k': template: key null is not text; keys are field names (quote it if it is text)",
        ),
        (
            "matrix: {delivery: [{1: x, a: y}]}\ntemplate: {medium: ad, mood: happy, length: 6}",
            "s.yaml: schedule 'k': matrix.delivery[0]: key 1 is not text; keys are field names (quote it if it "
            "is text)",
        ),
        (
            "matrix: {mood: [[1, {2: a, b: c}]]}\ntemplate: {medium: ad, length: 6}",
            "s.yaml: schedule 'k': matrix.mood[0][1]: key 2 is not text; keys are field names (quote it if it is text)",
        ),
        (
            "true: 1\nmatrix: {mood: [happy]}\ntemplate: {medium: ad, length: 6}",
            "s.yaml: schedule 'k': key true is not text; keys are field names (quote it if it is text)",
        ),
        (
            f"matrix: {{length: [{'9' * 400}]}}\ntemplate: {{medium: ad, mood: happy}}",
            "s.yaml: schedule 'k': matrix.length[0]: number too large (400 digits); numbers must be below 1e308",
        ),
        (
            f"matrix: {{length: [{'9' * 5000}]}}\ntemplate: {{medium: ad, mood: happy}}",
            "s.yaml: schedule 'k': matrix brief k-a-number-of-5-000-digits: "
            "length: a number of 5,000 digits is too large for any field",
        ),
    ],
)
def test_keys_that_are_not_text_and_huge_numbers_are_refused(body, message):
    with pytest.raises(ScheduleError) as caught:
        read(f"name: k\ncron: '0 3 * * *'\n{body}\n")
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name: "\\U00110000"\n', "s.yaml: a value cannot be read: chr() arg not in range(0x110000)"),
        ('name: "\\U99999999"\n', "s.yaml: a value cannot be read: Python int too large to convert to C int"),
        (
            "name: k\ncron: '0 3 * * *'\ntemplate: {x: 2026-13-45}\n",
            "s.yaml: a value cannot be read: month must be in 1..12",
        ),
    ],
)
def test_yaml_values_python_cannot_hold_are_refused(text, message):
    with pytest.raises(ScheduleError) as caught:
        read(text)
    assert str(caught.value) == message


def test_a_schedule_of_briefs_sources_has_no_matrix_briefs(tmp_path):
    schedule = read("name: nightly\ncron: '30 1 * * *'\nbriefs: [schemas/examples/]\n")
    assert schedule.matrix_briefs() == []
    path = tmp_path / "nightly.yaml"
    path.write_text("name: nightly\ncron: '30 1 * * *'\nbriefs: [schemas/examples/]\n")
    result = cues("schedule", "validate", str(path))
    assert result.output == f"ok       {path}  nightly  cron '30 1 * * *' UTC, 0 matrix briefs, 1 sources\n"


def test_a_per_occurrence_schedule_composes_new_music_each_time_and_the_same_on_a_re_run(tmp_path):
    brief = tmp_path / "pinned.yaml"
    brief.write_text("id: pinned\nmedium: ad\nmood: calm\nlength: 6\nseed: 42\n")
    raw = {
        "name": "refresh",
        "cron": "0 3 * * MON",
        "briefs": [str(brief)],
        "matrix": {"mood": ["happy", "calm"]},
        "template": {"medium": "ad", "length": 6},
    }

    def seeds(schedule: Schedule, occurrence: str) -> dict[str, int]:
        entries = schedule_entries(schedule, "refresh.yaml", occurrence)
        return {spec.cue_id: spec.seed for e in entries for spec in expand_cues(e.brief)}

    fixed, fresh = Schedule.model_validate(raw), Schedule.model_validate({**raw, "seed": "per_occurrence"})
    assert fixed.seed == "fixed" and seeds(fixed, "2026-11-23T03:00Z") == seeds(fixed, "2026-11-30T03:00Z")
    monday, next_monday = seeds(fresh, "2026-11-23T03:00Z"), seeds(fresh, "2026-11-30T03:00Z")
    assert monday == seeds(fresh, "2026-11-23T03:00Z")  # a re-run of one occurrence: the same cues
    assert monday["pinned"] == next_monday["pinned"] == 42  # a brief's own seed is kept
    for cue in ("refresh-happy", "refresh-calm"):
        assert monday[cue] != next_monday[cue] != seeds(fixed, "2026-11-23T03:00Z")[cue]
    with pytest.raises(ScheduleError, match="per_occurrence"):
        read_schedule_bytes(b"name: x\ncron: '0 3 * * *'\nbriefs: [a]\nseed: weekly\n", "x.yaml")
