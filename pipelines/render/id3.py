"""ID3v2 tags of the MP3 preview: what a music library, a DJ tool or a file browser shows for it.

The frames are written by ``mutagen`` (a maintained tag library, not our own writer) as ID3v2.4, UTF-8:

- ``TIT2`` title: the brief's title, else the cue id;
- ``TPE1`` artist: the brief's ``artist``, else ``cues``;
- ``TBPM`` beats per minute: the plan's mean tempo, rounded to a whole number (the frame holds an integer);
- ``TKEY`` initial key in the frame's own notation: the tonic as written (``C``, ``F#``, ``Bb``), ``m`` for a minor
  third (minor, dorian, phrygian), else nothing (major, lydian, mixolydian), because TKEY has no other modes; the
  full key is in the comment;
- ``COMM`` comment (language ``eng``, no description): ``cue <cue-id>, render <render-key>, <key>``.

No frame carries a date or an encoder's clock, and mutagen's padding is fixed, so the same cue gives the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from cues.schemas.brief import ResolvedBrief
from cues.schemas.key import Mode
from cues.schemas.plan import Plan

MINOR_THIRD_MODES = (Mode.minor, Mode.dorian, Mode.phrygian)
PADDING = 0  # bytes of ID3 padding: none, so the size never depends on mutagen's default


@dataclass(frozen=True)
class Id3Tags:
    """What the MP3 preview's tag says (module docstring)."""

    title: str
    artist: str
    bpm: int  # whole beats per minute
    key: str  # TKEY notation: ``Dm``, ``F#``, ``Bbm``
    comment: str


def tkey(tonic: str, mode: Mode) -> str:
    """The ID3 ``TKEY`` value of a key: ``tkey("D", Mode.dorian) == "Dm"``."""
    return tonic + ("m" if mode in MINOR_THIRD_MODES else "")


def tagged_mp3(mp3: bytes, tags: Id3Tags) -> bytes:
    """``mp3`` with an ID3v2.4 tag in front holding ``tags``."""
    from mutagen.id3 import COMM, ID3, TBPM, TIT2, TKEY, TPE1, Encoding

    tag = ID3()
    tag.add(TIT2(encoding=Encoding.UTF8, text=tags.title))
    tag.add(TPE1(encoding=Encoding.UTF8, text=tags.artist))
    tag.add(TBPM(encoding=Encoding.UTF8, text=str(tags.bpm)))
    tag.add(TKEY(encoding=Encoding.UTF8, text=tags.key))
    tag.add(COMM(encoding=Encoding.UTF8, lang="eng", desc="", text=tags.comment))
    file = io.BytesIO(mp3)
    tag.save(file, v2_version=4, padding=lambda _: PADDING)
    return file.getvalue()


def id3_tags(plan: Plan, brief: ResolvedBrief, cue_id: str, key: str) -> Id3Tags:
    """The ID3 tags of cue ``cue_id``'s MP3 files (render key ``key``): the preview's, and those ``cues get``
    makes on demand."""
    return Id3Tags(
        title=brief.title or cue_id,
        artist=brief.artist or "cues",
        bpm=round(plan.tempo_bpm),
        key=tkey(plan.key.split()[0], plan.mode),
        comment=f"cue {cue_id}, render {key}, {plan.key}, {plan.tempo_bpm:.0f} bpm",
    )
