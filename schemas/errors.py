"""Typed errors of the whole project, under one base class.

Library code raises these; only the CLI turns them into exit codes and one-line messages. Every message says what
failed, where, and what to do about it, because a user reads it instead of a traceback.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass


class ScoringError(Exception):
    """Base of every error this project raises on purpose."""


# --- briefs and schedules -------------------------------------------------------------------------------------

MAX_ECHO = 60  # characters of a value repeated in a message; a 900 KB title must not make a 900 KB error line


class _ShortRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxstring = self.maxlong = self.maxother = MAX_ECHO
        self.maxlist = self.maxtuple = self.maxdict = self.maxset = self.maxfrozenset = 6
        self.maxlevel = 3

    def repr_int(self, x: int, level: int) -> str:
        if x.bit_length() > 10_000:  # str() refuses ints of more than 4,300 digits
            return f"<a number of about {_digits(x):,} digits>"
        return super().repr_int(x, level)


_SHORT_REPR = _ShortRepr()


def echo(value: object) -> str:
    """``repr(value)`` for a message, cut to about :data:`MAX_ECHO` characters: a longer text, number or list keeps
    its start and end around ``...`` and says its full size, ``'xxxx...xxxx' (900,000 characters)``."""
    text = _SHORT_REPR.repr(value)
    if len(text) > 2 * MAX_ECHO:  # nested lists and mappings: up to 6 items at each of 3 levels
        text = text[: 2 * MAX_ECHO - 3] + "..."
    if isinstance(value, str) and len(value) > MAX_ECHO:
        return f"{text} ({len(value):,} characters)"
    if isinstance(value, int) and not isinstance(value, bool) and _digits(value) > MAX_ECHO:
        return text if text.startswith("<") else f"{text} ({_digits(value):,} digits)"
    if isinstance(value, list | tuple | dict | set) and len(value) > 6:
        return f"{text} ({len(value):,} items)"
    return text


def _digits(number: int) -> int:
    if number.bit_length() > 10_000:
        return int(abs(number).bit_length() * 0.30103) + 1  # log10(2): exact to within one digit
    return len(str(abs(number)))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one brief: where it is, what was given, and what is allowed.

    ``path`` is the field path inside the brief (``delivery.loudness``, ``hits[2]``); empty for the whole brief.
    """

    path: str
    message: str
    value: object = None
    has_value: bool = False

    def __str__(self) -> str:
        text = f"{self.message} (got {echo(self.value)})" if self.has_value else self.message
        return f"{self.path}: {text}" if self.path else text


class BriefError(ScoringError):
    """A brief (or schedule) is invalid. ``source`` names the file, ``brief`` the id or position."""

    noun = "brief"

    def __init__(self, problems: list[Problem] | str, source: str = "", brief: str = ""):
        # A plain message is one problem of the whole file (list() of a str would make one problem per character).
        self.problems = [Problem("", problems)] if isinstance(problems, str) else list(problems)
        self.source = source
        self.brief = brief
        super().__init__(self.describe())

    def located(self, source: str | None = None, brief: str | None = None) -> BriefError:
        """The same problems, tagged with the file and brief they were found in."""
        return type(self)(self.problems, source or self.source, brief or self.brief)

    def describe(self) -> str:
        brief = ""
        if self.brief:
            label = self.brief if self.brief.startswith("#") else f"'{self.brief}'"
            brief = f"{self.noun} {label}"
        where = ": ".join(part for part in (self.source, brief) if part)
        body = "; ".join(str(p) for p in self.problems)
        return f"{where}: {body}" if where else body


class BriefFileError(BriefError):
    """A brief file cannot be read as briefs at all (not UTF-8, not YAML, too large, alias bomb, wrong shape)."""


class ScheduleError(BriefError):
    """A schedule file is invalid."""

    noun = "schedule"


# --- storage --------------------------------------------------------------------------------------------------


class StoreError(ScoringError):
    """Reading or writing the object store failed."""


class StoreURIError(StoreError):
    """A store URI or key is malformed or would escape the configured prefix, or a store to read is not there.

    Invalid input (the CLI exits 2): the user named it."""


class StoreNotFound(StoreError):
    """The key does not exist in the store."""


class StoreConflict(StoreError):
    """A write that must not overwrite found the key already there (another run got there first)."""


class StoreUnreachable(StoreError):
    """The store's service cannot be reached or refused our credentials."""


class BatchNotRecorded(StoreError):
    """A batch ran, but its folder could not be written to the store. ``record`` is its batch record, to show anyway;
    ``kept`` the local file it was written to instead (None if that failed too)."""

    def __init__(self, message: str, record: object = None, kept: object = None):
        super().__init__(message)
        self.record, self.kept = record, kept


class StoreUnavailable(StoreUnreachable):
    """The store's service did not answer or said to try again (connection refused, timeout, 5xx, throttling):
    unlike a refusal (access denied, no such bucket), worth retrying after a pause."""


# --- runtime --------------------------------------------------------------------------------------------------


class RuntimeSetupError(ScoringError):
    """Ray (or another runtime dependency) could not be started or reached."""


# --- rendering ------------------------------------------------------------------------------------------------


class RenderError(ScoringError):
    """Audio could not be rendered or mastered (the message says which cue and why)."""


class SoundfontMissing(RenderError):
    """No usable soundfont: the configured file is missing or unreadable, or none is installed."""


class MidiReadError(RenderError):
    """A MIDI file is corrupt or uses something the renderer cannot play (e.g. more stems than synth buses)."""


# --- requests and retrieval -----------------------------------------------------------------------------------


class RevisionUnavailable(ScoringError):
    """The cue a revision names (``revise:``) is not delivered in the store, or the store cannot be read: the
    revision is invalid (at its ``revise`` field); the other briefs go on."""


class InvalidRequest(ScoringError):
    """A command's argument is not acceptable (a cue name with path tricks, a file the cue does not have…)."""


class IntegrityError(StoreError):
    """A stored file does not match the sha256 its manifest recorded."""
