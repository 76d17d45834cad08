"""What the renderer is asked to render: one cue's MIDI and everything about its delivery (``AudioRequest``), made
by ``pipelines/generate/cue_writer.audio_request`` from a composed cue and its brief."""

from __future__ import annotations

from dataclasses import dataclass

from cues.pipelines.render.id3 import Id3Tags
from cues.pipelines.render.midi_events import StemRoute
from cues.schemas.brief import Delivery, Ending


@dataclass(frozen=True)
class AudioRequest:
    """What the renderer needs to know about one cue besides its MIDI."""

    midi: bytes
    stems: tuple[StemRoute, ...] | None  # None: one stem per MIDI channel with notes
    length_s: float  # the musical length; the file's too except for a ring-out tail
    ending: Ending
    delivery: Delivery  # with ``loudness`` resolved (not None)
    fade_s: float = 2.0  # ``fade``: length of the audio fade (the last bar)
    title: str = ""  # what the WAVs' bext description says of the cue, after the file's name ("mix of <title>")
    reference: str = ""  # the cue key, written into the WAVs' bext chunk (which carries no date: same key, same bytes)
    time_reference: int = 0  # the bext TimeReference: the first sample's time in samples since midnight
    id3: Id3Tags | None = None  # the MP3 preview's ID3v2 tags (render/id3.py); None: untagged
    seed: int = 0  # dither
    sections: tuple[tuple[float, float], ...] = ()  # (start s, end s) of each section of the plan: the balance's
    lead: str | None = None  # the stem that carries the tune, kept on top of the others (render/balance.py)
    # the stems delivered, each with the names of the rendered ``stems`` it sums (the brief's ``delivery.stems``);
    # None: as rendered. Rendering and the balance work on the rendered stems, so the mix is the same either way.
    grouping: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    # the alternate mixes (``delivery.alternates``), each with the names of the rendered stems it keeps
    alternates: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # labelled times (label, seconds) written as cue points into every WAV of a loop, with its loop points
    # (render/wav_markers.py): the plan's section starts and hits
    markers: tuple[tuple[str, float], ...] = ()
    # a game cue's vertical layers, quietest first, each with the names of the rendered ``stems`` it sums
    # (compose/layers.py; render/layers.py); None: no layers
    layers: tuple[tuple[str, tuple[str, ...]], ...] | None = None
    mood: str | None = None  # the palette's mood (the brief's first): its soundfont, if it names one, and reverb space
