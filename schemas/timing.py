"""Times, lengths and meters as briefs write them.

Lengths are seconds (``30``, ``12.5``, ``"30s"``, ``"1:30"``, ``"0:07.5"``) or bars (``"16 bars"``). Times of hits are
seconds or ``"m:ss.fff"``. A meter's *beat* is what the tempo counts: a quarter note in 2/4, 3/4 and 4/4, a dotted
quarter in 6/8 (two beats a bar), as conductors and DAWs count compound time.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import StrEnum

MIN_LENGTH_S = 3.0  # seconds; shortest cue a brief may ask for
MAX_LENGTH_S = 600.0  # seconds; longest
MIN_TEMPO = 40.0  # bpm
MAX_TEMPO = 220.0  # bpm
MAX_BARS = 1024

ALLOWED_LENGTHS = (
    'seconds as a number (30, 12.5) or text "30s", "30 s", "1:30", "0:07.5", or bars as "16 bars"; '
    f"{MIN_LENGTH_S:g} to {MAX_LENGTH_S:g} seconds"
)
ALLOWED_TIMES = 'seconds as a number (12.0) or text "12.5s", "m:ss.fff" ("0:41.5") or "h:mm:ss.fff"'

_SECONDS_RE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(?:s|sec|secs|seconds?)?\s*$", re.IGNORECASE)
_CLOCK_RE = re.compile(r"^\s*(?:(\d+):)?(\d+):(\d{1,2}(?:\.\d+)?)\s*$")
_BARS_RE = re.compile(r"^\s*(\d+)\s*(?:bars?|measures?)\s*$", re.IGNORECASE)


class TimingParseError(ValueError):
    """The text is not a time, length or meter a brief may give."""


class Meter(StrEnum):
    """Time signatures a brief may ask for."""

    four_four = "4/4"
    three_four = "3/4"
    six_eight = "6/8"
    two_four = "2/4"

    @property
    def beats_per_bar(self) -> int:
        """Beats the tempo counts in one bar (6/8 counts two dotted quarters)."""
        return {"4/4": 4, "3/4": 3, "6/8": 2, "2/4": 2}[self.value]

    @property
    def quarter_notes_per_bar(self) -> float:
        """Bar length in quarter notes (6/8 is three)."""
        return {"4/4": 4.0, "3/4": 3.0, "6/8": 3.0, "2/4": 2.0}[self.value]

    def bar_seconds(self, tempo: float) -> float:
        """Duration of one bar in seconds at ``tempo`` beats per minute."""
        return self.beats_per_bar * 60.0 / tempo


@dataclass(frozen=True)
class Length:
    """A cue length: exactly one of ``seconds`` or ``bars`` is set."""

    seconds: float | None = None
    bars: int | None = None

    def __post_init__(self) -> None:
        if (self.seconds is None) == (self.bars is None):
            raise TimingParseError("a length is either seconds or bars, not both")

    def duration(self, meter: Meter, tempo: float | None) -> float | None:
        """Seconds this length lasts; ``None`` for bars when the tempo is not known yet."""
        if self.seconds is not None:
            return self.seconds
        if tempo is None:
            return None
        return self.bars * meter.bar_seconds(tempo)

    def duration_range(self, meter: Meter) -> tuple[float, float]:
        """Shortest and longest seconds this length can mean over the whole allowed tempo range."""
        if self.seconds is not None:
            return self.seconds, self.seconds
        return self.bars * meter.bar_seconds(MAX_TEMPO), self.bars * meter.bar_seconds(MIN_TEMPO)

    def to_brief(self) -> float | str:
        """The canonical brief spelling: a number of seconds or ``"N bars"``."""
        if self.bars is not None:
            return f"{self.bars} bars"
        return int(self.seconds) if float(self.seconds).is_integer() else self.seconds

    def __str__(self) -> str:
        if self.bars is not None:
            return f"{self.bars} bars"
        return format_clock(self.seconds)


def parse_time(value: object) -> float:
    """Seconds from a number or ``"12.5s"`` / ``"m:ss.fff"`` / ``"h:mm:ss.fff"``. Not range-checked."""
    if isinstance(value, bool):
        raise TimingParseError(f"not a time; allowed: {ALLOWED_TIMES}")
    if isinstance(value, int | float):
        seconds = _float(value)
    elif isinstance(value, str):
        seconds = _parse_time_text(value)
    else:
        raise TimingParseError(f"not a time; allowed: {ALLOWED_TIMES}")
    if not math.isfinite(seconds) or seconds < 0:
        raise TimingParseError(f"a time must be a finite number of seconds ≥ 0; allowed: {ALLOWED_TIMES}")
    return seconds


def _float(number: int | float) -> float:
    try:
        return float(number)
    except OverflowError:  # an int of more than ~308 digits: no float holds it
        return math.inf


def _parse_time_text(text: str) -> float:
    if match := _SECONDS_RE.match(text):
        return float(match.group(1))
    if match := _CLOCK_RE.match(text):
        # float(), not int(): it reads any number of digits (to inf), where int() refuses more than 4,300
        hours, minutes, seconds = (float(part or 0) for part in match.groups())
        if seconds >= 60 or (match.group(1) is not None and minutes >= 60):
            raise TimingParseError(f"minutes and seconds must be below 60; allowed: {ALLOWED_TIMES}")
        return hours * 3600 + minutes * 60 + seconds
    raise TimingParseError(f"not a time; allowed: {ALLOWED_TIMES}")


def parse_length(value: object) -> Length:
    """A :class:`Length` from a brief value. Seconds are range-checked here; bars against tempo later."""
    if isinstance(value, str) and (match := _BARS_RE.match(value)):
        digits = match.group(1).lstrip("0") or "0"
        bars = int(digits) if len(digits) <= len(str(MAX_BARS)) else MAX_BARS + 1  # int() refuses 4,301+ digits
        if not 1 <= bars <= MAX_BARS:
            raise TimingParseError(f"bars must be 1 to {MAX_BARS}; allowed: {ALLOWED_LENGTHS}")
        return Length(bars=bars)
    try:
        seconds = parse_time(value)
    except TimingParseError:
        raise TimingParseError(f"not a length; allowed: {ALLOWED_LENGTHS}") from None
    if not MIN_LENGTH_S <= seconds <= MAX_LENGTH_S:
        raise TimingParseError(f"length out of range; allowed: {ALLOWED_LENGTHS}")
    return Length(seconds=seconds)


def format_clock(seconds: float) -> str:
    """``"m:ss"`` or ``"m:ss.fff"`` (trailing zeros dropped), the way cue sheets write times."""
    minutes, rest = divmod(round(seconds, 3), 60)
    text = f"{int(minutes)}:{rest:06.3f}".rstrip("0").rstrip(".")
    return text
