"""One FluidSynth pass that renders every stem to its own stereo bus, effects included.

FluidSynth routes a voice of MIDI channel ``c`` to audio group ``c mod groups`` and to effects group
``c mod effects-groups``. With ``synth.audio-groups = synth.effects-groups = buses`` each bus gets its own dry
signal and its own reverb and chorus units; ``fluid_synth_process`` is given, for group ``g``, the same pair of
buffers for the dry signal and for both effects returns, so the synth adds each stem's reverb and chorus share
into that stem's buffer. The reverb and chorus are linear and identical in every group, so the stems sum to what
a one-bus synth renders, to float rounding (measured: -127 dB; separate passes per stem
do not sum, because voices and effects interact).

pyfluidsynth has no binding for ``fluid_synth_process``; it is called through ctypes here, together with the
event functions (cheaper per call than pyfluidsynth's wrappers, which matters at thousands of events a cue).

Renders may run in several threads at once (``CueRenderer`` renders each stem on a synth of its own, two at a
time): each render has its own FluidSynth synth, but all of them borrow the one loaded soundfont, whose reference
counts (the soundfont's and each sample's) are plain ints that FluidSynth 2.3 changes in its API calls (a program
change, a note-on, the finished voices collected when the next call enters). So every API call of every render
goes one at a time (a lock); ``fluid_synth_process``, the work, touches none of them and runs outside it (ctypes
releases the GIL for it).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import logging
import threading
from dataclasses import dataclass

import numpy as np

from cues.pipelines.render.midi_events import MAX_STEMS, MidiPerformance
from cues.pipelines.render.scratch import RELEASE_SAMPLES, release
from cues.pipelines.render.soundfont import Soundfont
from cues.schemas.config import SynthConfig
from cues.schemas.errors import RenderError, SoundfontMissing

log = logging.getLogger(__name__)

FLUID_BLOCK = 64  # FluidSynth's internal block: an event takes effect at the next multiple of it
MAX_CHUNK = 8192  # samples per fluid_synth_process call between events
_CHANNEL_TYPE = {False: 0, True: 1}  # CHANNEL_TYPE_MELODIC, CHANNEL_TYPE_DRUM


@functools.lru_cache(maxsize=1)
def _library():
    """FluidSynth's C library with the signatures we call (checked once, with a clear error): the library whose
    calls keep the GIL, and ``fluid_synth_process`` releasing it.

    Every call but ``fluid_synth_process`` takes microseconds, so it keeps the GIL (a ``ctypes.PyDLL`` handle): a
    call that released it would then wait to take it back from a thread working in Python, up to the interpreter's
    5 ms switch interval, at each of a cue's thousands of events."""
    try:
        # pyfluidsynth prints where it found the library when CI is set in the environment; our stdout carries
        # tables and JSON, so that line is swallowed.
        with contextlib.redirect_stdout(io.StringIO()):
            import fluidsynth
    except (ImportError, OSError) as err:  # pyfluidsynth raises ImportError when libfluidsynth is missing
        raise RenderError(
            f"FluidSynth is not available ({err}); install it with `sudo apt-get install fluidsynth libfluidsynth3`"
        ) from err
    lib = ctypes.PyDLL(fluidsynth._fl._name)  # the library pyfluidsynth loaded; calls through it keep the GIL
    vp, i = ctypes.c_void_p, ctypes.c_int
    signatures = {
        "fluid_synth_process": [vp, i, i, vp, i, vp],
        "fluid_synth_noteon": [vp, i, i, i],
        "fluid_synth_noteoff": [vp, i, i],
        "fluid_synth_cc": [vp, i, i, i],
        "fluid_synth_program_change": [vp, i, i],
        "fluid_synth_pitch_bend": [vp, i, i],
        "fluid_synth_channel_pressure": [vp, i, i],
        "fluid_synth_key_pressure": [vp, i, i, i],
        "fluid_synth_system_reset": [vp],
        "fluid_synth_set_channel_type": [vp, i, i],
        "fluid_synth_count_audio_groups": [vp],
        "fluid_synth_add_sfont": [vp, vp],
        "fluid_synth_remove_sfont": [vp, vp],
        "fluid_synth_program_reset": [vp],
        "fluid_synth_sfcount": [vp],
    }
    for name, args in signatures.items():
        function = getattr(lib, name)
        function.argtypes = args
        function.restype = i
    for name, args in {"new_fluid_synth": [vp], "fluid_synth_get_sfont": [vp, ctypes.c_uint]}.items():
        function = getattr(lib, name)
        function.argtypes = args
        function.restype = vp
    lib.delete_fluid_synth.argtypes = [vp]
    lib.delete_fluid_synth.restype = None
    # A new synth warns "No preset found" for every channel before it is given the soundfont: silence warnings
    # (level 2); errors still print.
    lib.fluid_set_log_function.argtypes = [i, vp, vp]
    lib.fluid_set_log_function(2, None, None)
    process = ctypes.CDLL(fluidsynth._fl._name).fluid_synth_process  # releases the GIL while it synthesises
    process.argtypes, process.restype = signatures["fluid_synth_process"], i
    return fluidsynth, lib, process


@dataclass(frozen=True)
class _Dispatch:
    """How each event kind reaches the synth: the C function and which of (data1, data2) it takes."""

    function: str
    arity: int


_DISPATCH = {
    "note_on": _Dispatch("fluid_synth_noteon", 2),
    "note_off": _Dispatch("fluid_synth_noteoff", 1),
    "control_change": _Dispatch("fluid_synth_cc", 2),
    "program_change": _Dispatch("fluid_synth_program_change", 1),
    "pitchwheel": _Dispatch("fluid_synth_pitch_bend", 1),
    "aftertouch": _Dispatch("fluid_synth_channel_pressure", 1),
    "polytouch": _Dispatch("fluid_synth_key_pressure", 2),
}


class BusSynth:
    """FluidSynth with ``buses`` stereo buses and a soundfont loaded once, for many cues (loading FluidR3 takes
    0.3 s).

    Each render runs on a fresh synth that borrows the loaded soundfont (``fluid_synth_add_sfont``, then
    ``fluid_synth_remove_sfont`` so it is not freed with it): ``fluid_synth_system_reset`` on a reused synth left
    the previous cue's released voices sounding into the next one and did not restart the chorus modulation, so
    the same cue rendered differently the second time (measured: up to 0.33 of full scale). A fresh synth costs
    milliseconds; a fresh soundfont would cost the 0.3 s.

    :meth:`render` may be called from several threads at once (module docstring). Close it (or use it as a context
    manager) to free the soundfont, once no render runs."""

    def __init__(self, soundfont: Soundfont, sample_rate: int, buses: int, config: SynthConfig):
        if not 1 <= buses <= MAX_STEMS:
            raise RenderError(f"a synth has 1 to {MAX_STEMS} buses, not {buses}")
        fluidsynth, self._lib, self._process = _library()
        self.soundfont = soundfont
        self.sample_rate = sample_rate
        self.buses = buses
        self.config = config
        settings = {
            "synth.audio-channels": buses,
            "synth.audio-groups": buses,
            "synth.effects-groups": buses,
            "synth.reverb.active": int(config.reverb),
            "synth.chorus.active": int(config.chorus),
            "synth.polyphony": config.polyphony,
            "synth.cpu-cores": 1,  # parallelism comes from running one synth per Ray worker
        }
        self._synth = fluidsynth.Synth(gain=config.gain, samplerate=float(sample_rate), channels=16, **settings)
        if self._lib.fluid_synth_count_audio_groups(self._synth.synth) != buses:
            raise RenderError(f"this FluidSynth did not accept {buses} audio groups")
        if self._synth.sfload(str(soundfont.path)) < 0:
            self.close()
            raise SoundfontMissing(f"FluidSynth could not load soundfont {str(soundfont.path)!r} (not a valid .sf2?)")
        self._sfont = self._lib.fluid_synth_get_sfont(self._synth.synth, 0)
        self._api = threading.Lock()  # FluidSynth API calls of every render, one at a time (module docstring)

    def __enter__(self) -> BusSynth:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_synth", None) is not None:
            self._synth.delete()
            self._synth = None

    def render(self, performance: MidiPerformance, samples: int, out: np.ndarray | None = None) -> np.ndarray:
        """Play ``performance`` from a reset synth; returns float32 audio shaped (buses used, 2, samples).

        ``out``: a zeroed float32 buffer (buses, 2, samples) to render into (a scratch file's, ``scratch.py``: its
        pages are released as the synth moves on); None: a new array.

        Stem ``i`` sounds on bus ``i mod buses`` (FluidSynth's rule), so a synth with a bus per stem returns the
        stems, and a one-bus synth returns the plain mix. Events after ``samples`` are not played. Rendering the
        same performance twice gives the same samples."""
        stems = len(performance.stems)
        if stems > MAX_STEMS:
            raise RenderError(f"{stems} stems; the synth has {MAX_STEMS} channels at most")
        lib = self._lib
        with self._api:
            synth = lib.new_fluid_synth(self._synth.settings)  # same settings as the loaded one
            if not synth:
                raise RenderError("FluidSynth could not create a synth")
            lib.fluid_synth_add_sfont(synth, self._sfont)
            lib.fluid_synth_program_reset(synth)
        try:
            return self._play(synth, performance, samples, out)
        finally:
            with self._api:
                lib.fluid_synth_remove_sfont(synth, self._sfont)  # borrowed: must not be freed with this synth
                lib.delete_fluid_synth(synth)

    def _play(self, synth: int, performance: MidiPerformance, samples: int, out: np.ndarray | None) -> np.ndarray:
        lib, stems = self._lib, len(performance.stems)
        with self._api:
            for channel in range(MAX_STEMS):
                drums = channel in performance.drum_channels
                lib.fluid_synth_set_channel_type(synth, channel, _CHANNEL_TYPE[drums])
                lib.fluid_synth_program_change(synth, channel, 0)  # a type change takes effect with a program change

        audio = np.zeros((self.buses, 2, samples), dtype=np.float32) if out is None else out
        if audio.shape != (self.buses, 2, samples) or audio.dtype != np.float32 or not audio.flags.c_contiguous:
            raise RenderError(f"the synth renders into float32 ({self.buses}, 2, {samples}), not {audio.shape}")
        released = 0
        base = np.array([audio[b, side].ctypes.data for b in range(self.buses) for side in (0, 1)], dtype=np.uint64)
        fx_map = np.repeat(np.arange(self.buses), 2)  # reverb and chorus returns of group g → bus g's pair
        fx_base = np.array([base[2 * g + side] for g in fx_map for side in (0, 1)], dtype=np.uint64)
        n_out, n_fx = len(base), len(fx_base)

        def process(start: int, stop: int) -> None:
            nonlocal released
            while start < stop:
                length = min(MAX_CHUNK, stop - start)
                offset = np.uint64(start * 4)  # float32 bytes
                out, fx = base + offset, fx_base + offset
                if self._process(synth, length, n_fx, fx.ctypes.data, n_out, out.ctypes.data) != 0:
                    raise RenderError("fluid_synth_process failed")
                start += length
            if start - released >= RELEASE_SAMPLES:
                release(audio)
                released = start

        position, events = 0, performance.events
        index = 0
        while index < len(events) and events[index].sample < samples:
            if events[index].sample > position:
                process(position, events[index].sample)
                position = events[index].sample
            with self._api:  # every event at this sample
                while index < len(events) and events[index].sample == position:
                    event = events[index]
                    dispatch = _DISPATCH[event.kind]
                    args = (event.data1, event.data2)[: dispatch.arity]
                    getattr(lib, dispatch.function)(synth, event.channel, *args)
                    index += 1
        process(position, samples)
        release(audio)
        return audio[: min(self.buses, max(stems, 1))]
