"""A cue's MIDI → its delivered audio: each stem rendered by a synth of its own, mixed (each stem's strip and
reverb send, ``stem_mix.py``), balanced (the lead on top, ``balance.py``), ending shaped, mastered, encoded.

:class:`CueRenderer` is what a worker keeps: the soundfonts found once (the renderer's and those the palettes name),
one loaded synth per (soundfont, sample rate), reused for every cue, and the render's threads
(``render_threads.py``): the stems' synth passes and strips, their section levels and the files are independent
pieces, run side by side when it is given two threads.
Since ``render-6`` a stem is rendered alone (a fresh FluidSynth synth playing only its channels, borrowing the
loaded soundfont) rather than on its bus of one pass over every stem: the stems are independent pieces of work,
so on two threads the longest of them, not all of them, is the synth's part of the render's wall time. The mix is
their sum, as before. :meth:`CueRenderer.render` is
the whole audio stage of one cue and returns the paths of finished files in the render's scratch folder with the
numbers the manifest records; storing them (and then closing what it returns, which deletes the folder) is the
caller's business.

Memory (issue 17): every whole-cue signal past ``scratch.MEMORY_BUDGET_MB`` is a file of the render's scratch
folder mapped into memory, every pass over a signal goes in blocks releasing the pages behind it, and every file is
written in blocks straight to disk (``file_writer.py``), so a worker's peak does not grow with the cue: measured
(``bench/memory.py``, every deliverable on) 532, 508 and 586 MB for 60, 180 and 600 s, against 956, 1,984 and
5,838 MB when every signal and file was held whole. The one whole-signal copy left is the mix through the
limiter, when a loud target needs it.
"""

from __future__ import annotations

import logging
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cues.pipelines.render.alternates import MasteredAlternate, master_alternates, sum_alternates
from cues.pipelines.render.audio_request import AudioRequest
from cues.pipelines.render.balance import SectionBalance, balance_stems
from cues.pipelines.render.deliverables import RENDERER_VERSION, RenderedAudio, encode, encode_alternates
from cues.pipelines.render.endings import fold_loop, shape_ending
from cues.pipelines.render.layers import LayerAudio, master_layers, sum_layers
from cues.pipelines.render.loudness import SILENCE, gated_loudness, step_powers
from cues.pipelines.render.master import Mastered, master
from cues.pipelines.render.midi_events import MidiPerformance, StemRoute, note_spans, read_performance
from cues.pipelines.render.render_threads import RenderThreads
from cues.pipelines.render.scratch import Scratch, release, summed
from cues.pipelines.render.soundfont import Soundfont, find_soundfont, palette_soundfonts
from cues.pipelines.render.stem_mix import StemStrip, StripChannel, mix_stems, stem_treatments, strip
from cues.pipelines.render.synth import BusSynth
from cues.pipelines.render.waveform import waveform_peaks
from cues.schemas.brief import Ending
from cues.schemas.config import RenderConfig
from cues.schemas.errors import RenderError
from cues.schemas.palettes import Palettes
from cues.schemas.stem_mix import stem_mix

__all__ = ["RENDERER_VERSION", "AudioRequest", "CueRenderer", "MasteredCue", "RenderedAudio"]

log = logging.getLogger(__name__)


@dataclass
class MasteredCue:
    """One cue's audio before encoding: ``mastered`` holds the stems (in the order of ``stems``: the synth's buses,
    or the delivered stems gathered from them) and the mix as float arrays at ``rate``; the musical length is
    ``length_samples`` (a ring-out or loop render is longer by its tail)."""

    mastered: Mastered
    stems: tuple[StemRoute, ...]
    rate: int
    length_samples: int
    timings: dict[str, float]
    balance: list[SectionBalance] = field(default_factory=list)  # the lead's and accompaniment's faders per section
    alternates: list[MasteredAlternate] = field(default_factory=list)  # render/alternates.py
    layers: LayerAudio | None = None  # a game cue's vertical layers at the mix's gain (render/layers.py)
    strips: list[StemStrip] = field(default_factory=list)  # what the mix did to each rendered stem (none: mix off)
    soundfont: Soundfont | None = None  # the soundfont it was rendered with
    # the folder whose files hold the signals above (their files deleted when this is collected)
    scratch: Scratch | None = None

    def __post_init__(self) -> None:
        if self.scratch is not None:
            weakref.finalize(self, self.scratch.drop_signals)


class CueRenderer:
    """Renders cues; holds the soundfont and loaded synths. Close it when done (or use ``with``)."""

    def __init__(self, config: RenderConfig | None = None, palettes: Palettes | None = None, threads: int = 1):
        """``palettes``: where a mood's own soundfont is looked up (default ``schemas/palettes.yaml``); ``threads``:
        how many pieces of a render run at once (``render_threads.py``). One by default, as a pool's worker that
        shares the cores renders; two where a render has the machine to itself (the in-process path: 0.94 against
        1.70 x ``fluidsynth -F`` on a quiet 2-core machine; on a machine busy with other sessions two threads were
        slower: bench/README.md, render-6). The files are the same with any number."""
        self.config = config or RenderConfig()
        self.soundfont: Soundfont = find_soundfont(self.config.soundfont)
        self.palette_soundfonts: dict[str, Soundfont] = palette_soundfonts(palettes)  # mood → its own
        self._synths: dict[tuple[str, int], BusSynth] = {}
        self._threads = RenderThreads(threads)
        # called with a stage's name as it starts ("synth", "mix", …, "encode stems/bass.wav"): how
        # ``bench/memory.py`` attributes the peak memory to stages. None in a worker.
        self.observe: Callable[[str], None] | None = None

    def __enter__(self) -> CueRenderer:
        return self

    def __exit__(self, *_) -> None:
        self.close()

    def close(self) -> None:
        self._threads.close()
        for synth in self._synths.values():
            synth.close()
        self._synths.clear()

    @property
    def identity(self) -> dict:
        """Everything about the renderer that decides the audio of a cue whose palette names no soundfont."""
        return self.identity_of(None)

    def identity_of(self, mood: str | None) -> dict:
        """Everything about the renderer that decides the audio of a cue of ``mood`` (the palette's): part of its
        render key. The soundfont's sha256 is that of the palette's soundfont where it names one."""
        return {
            "renderer": RENDERER_VERSION,
            "soundfont": self.soundfont_of(mood).sha256,
            "settings": self.config.model_dump(mode="json", exclude={"soundfont"}),
            "mix": stem_mix().model_dump(mode="json") if self.config.mix else None,  # schemas/stem_mix.yaml
        }

    def soundfont_of(self, mood: str | None) -> Soundfont:
        """The soundfont a cue of ``mood`` renders with: its palette's, else the renderer's."""
        return self.palette_soundfonts.get(mood or "", self.soundfont)

    def synth(self, rate: int, soundfont: Soundfont | None = None) -> BusSynth:
        """The loaded synth of ``soundfont`` (default the renderer's) at ``rate``: one bus, for one stem at a time
        (several at once, from the render's threads)."""
        soundfont = soundfont or self.soundfont
        key = (soundfont.sha256, rate)
        if key not in self._synths:
            self._synths[key] = BusSynth(soundfont, rate, 1, self.config.synth)
        return self._synths[key]

    def master_cue(self, request: AudioRequest) -> MasteredCue:
        """Synthesise, mix (``stem_mix.py``), balance (the request's lead on top, ``balance.py``), shape the ending
        and master one cue, without encoding: the stems and mix as float arrays (what :meth:`render` encodes, and
        what ``bench/arrangement.py`` measures)."""
        if request.delivery.loudness is None:
            raise RenderError("the delivery loudness is not resolved (call Brief.resolve first)")
        scratch = Scratch()  # every whole-cue signal is a file of it (scratch.py)
        try:
            return self._master_cue(request, scratch)
        except BaseException:
            scratch.close()
            raise

    def _master_cue(self, request: AudioRequest, scratch: Scratch) -> MasteredCue:
        config, delivery = self.config, request.delivery
        rate = delivery.sample_rate
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        self._stage("synth")
        performance = read_performance(request.midi, rate, request.stems)
        length = round(request.length_s * rate)
        max_tail = round(config.tail_max_s * rate)
        rings = request.ending in (Ending.ring_out, Ending.loop)
        soundfont = self.soundfont_of(request.mood)
        synth = self.synth(rate, soundfont)
        samples = length + (max_tail if rings else 0)
        buses = scratch.array((len(performance.stems), 2, samples))
        loop = request.ending == Ending.loop
        names = [stem.name for stem in performance.stems]
        treatments = stem_treatments(names, stem_mix(), request.lead) if config.mix else []

        def play(index: int) -> StripChannel | None:
            """Stem ``index`` rendered by itself into its bus, folded if a loop (a loop is mixed as the ring that
            repeats: stem_mix.py), and through its channel strip when the mix is on."""
            stem = buses[index : index + 1]
            synth.render(performance.alone(index), samples, out=stem)
            if loop:
                stem = fold_loop(stem, length)
            return strip(stem[0], rate, treatments[index][1], loop) if config.mix else None

        # the stems side by side (render_threads.py), the longest first
        order = sorted(range(len(names)), key=lambda index: -_sounding(performance, index, rate // 2))
        played = dict(zip(order, self._threads.map(play, order), strict=True))
        raw = buses[..., :length] if loop else buses
        timings["synth_s"] = time.perf_counter() - clock  # with the stems' strips, which run as each stem is ready

        clock = time.perf_counter()
        self._stage("mix")
        strips: list[StemStrip] = []
        if config.mix:
            channels = [played[index] for index in range(len(names))]
            strips = mix_stems(
                raw, rate, names, stem_mix(), lead=request.lead, mood=request.mood, ring=loop, channels=channels
            )
        timings["mix_s"] = time.perf_counter() - clock

        # The balance comes after the mix: it levels what is delivered. Before it, the reverb sends and the
        # compressors moved the lead of a mysterious cue (tests/test_balance.py) to 3.4 and 4.2 dB under its
        # accompaniment, outside the ±3 dB the rule guarantees.
        clock = time.perf_counter()
        self._stage("balance")
        balance = _balance(raw, rate, request, performance, config, self._threads.map)
        timings["balance_s"] = time.perf_counter() - clock

        clock = time.perf_counter()
        self._stage("ending")
        floor = 0.0
        if request.ending == Ending.ring_out:  # the floor is at delivery level: estimate the gain it will get
            mix = summed(scratch.array(raw.shape[1:]), raw, range(raw.shape[0]))
            raw_loudness = gated_loudness(step_powers(mix, rate), rate)
            del mix
            if raw_loudness != SILENCE:
                floor = 10.0 ** ((config.tail_floor_dbfs - (delivery.loudness - raw_loudness)) / 20.0)
        shaped = raw  # a loop is folded already
        if not loop:
            shaped = shape_ending(
                raw,
                request.ending,
                length,
                declick_samples=round(config.declick_ms / 1000 * rate),
                fade_samples=round(min(request.fade_s, config.fade_max_s) * rate),
                max_tail=max_tail,
                tail_floor=floor,
            )
        del raw
        self._stage("alternates and layers summed")
        sums = sum_alternates(shaped, names, request.alternates, scratch)
        stems, groups = _gathered(performance.stems, request.grouping)
        layers = None  # summed before ``master`` scales the rendered stems in place
        if request.layers is not None:
            layers = sum_layers(shaped, names, request.layers, scratch)
        self._stage("master")
        mastered = master(
            shaped,
            rate,
            delivery.loudness,
            delivery.true_peak,
            loop=loop,
            release_ms=config.limiter_release_ms,
            lookahead_ms=config.limiter_lookahead_ms,
            groups=groups,
            scratch=scratch,
        )
        self._stage("alternates mastered")
        alternates = master_alternates(
            sums,
            mastered.gain_db,
            rate,
            delivery.true_peak,
            mastered.limiter,
            loop=loop,
            release_ms=config.limiter_release_ms,
            lookahead_ms=config.limiter_lookahead_ms,
        )
        if layers is not None:
            master_layers(layers, mastered.gain_db)
        timings["master_s"] = time.perf_counter() - clock
        return MasteredCue(
            mastered,
            stems,
            rate,
            length,
            timings,
            balance,
            alternates=alternates,
            layers=layers,
            strips=strips,
            soundfont=soundfont,
            scratch=scratch,
        )

    def _stage(self, name: str) -> None:
        if self.observe is not None:
            self.observe(name)

    def render(self, request: AudioRequest) -> RenderedAudio:
        """The whole audio stage of one cue: :meth:`master_cue`, then every file measured and written into the
        render's scratch folder; the caller stores the files from there and closes what this returns."""
        cue = self.master_cue(request)
        mastered, delivery, timings = cue.mastered, request.delivery, cue.timings
        clock = time.perf_counter()
        scratch, kbps = cue.scratch, self.config.mp3_bitrate_kbps
        try:
            run = self._threads.map
            audio = encode(request, mastered, cue.stems, cue.rate, kbps, cue.layers, scratch, self._stage, run)
            encode_alternates(request, cue.alternates, cue.rate, audio, scratch, self._stage, run)
            waveform = waveform_peaks(mastered.mix, cue.rate)  # read in chunks; its pages released with the rest
            release(mastered.mix)
        except BaseException:
            scratch.close()
            raise
        scratch.drop_signals()  # the files are written; the signals' pages go with ``cue``
        timings["encode_s"] = time.perf_counter() - clock
        self._stage("handed back")
        audio.timings = timings
        audio.summary.update(
            {
                "renderer": RENDERER_VERSION,
                "soundfont": {"name": cue.soundfont.name, "sha256": cue.soundfont.sha256},
                "synth": self.config.synth.model_dump(mode="json"),
                "ending": request.ending.value,
                "length_samples": cue.length_samples,
                "tail_samples": mastered.mix.shape[-1] - cue.length_samples,
                "gain_db": round(mastered.gain_db, 3),
                "stem_trim_db": round(mastered.stem_trim_db, 6),
                "limiter": {
                    "engaged": mastered.limiter.engaged,
                    "ceiling_dbtp": mastered.limiter.ceiling_db,
                    "max_gain_reduction_db": mastered.limiter.max_gain_reduction_db,
                    "passes": mastered.limiter.passes,
                },
                "balance": {
                    "lead": request.lead if cue.balance else None,
                    "sections": [section.as_record() for section in cue.balance],
                },
                "mix": {
                    "space": stem_mix().space_for(request.mood).model_dump(mode="json"),
                    "stems": {strip.stem: strip.as_record() for strip in cue.strips},
                }
                if cue.strips
                else None,
                "waveform": waveform,
                "loudness_target_lufs": delivery.loudness,
                "true_peak_ceiling_dbtp": delivery.true_peak,
            }
        )
        return audio


def _sounding(performance: MidiPerformance, bus: int, release: int) -> int:
    """Samples of voices sounding on ``bus`` (every channel of its stem), roughly: each note's length plus
    ``release`` samples of its release; how long its synth pass takes. On a 60 s action cue the strings' many short
    notes on two channels cost 0.96-1.13 CPU s, the melody's longer ones 0.28-0.31 s: by note length alone on one
    channel the strings came fifth of six, and the stems' step took 1.6 s on two cores instead of 1.2."""
    held: dict[tuple[int, int], list[int]] = {}
    total = 0
    for event in performance.events:
        if performance.bus_of(event.channel) != bus:
            continue
        key = (event.channel, event.data1)
        if event.kind == "note_on":
            held.setdefault(key, []).append(event.sample)
        elif event.kind == "note_off" and held.get(key):
            total += event.sample - held[key].pop(0) + release
    return total


def _balance(
    raw: np.ndarray, rate: int, request: AudioRequest, performance: MidiPerformance, config: RenderConfig, run
) -> list[SectionBalance]:
    """Keep the request's lead on top of the other stems, section by section (``render/balance.py``), in place;
    ``run`` measures the stems (``RenderThreads.map``)."""
    names = [stem.name for stem in performance.stems]
    if request.lead not in names or not request.sections:
        return []
    lead = names.index(request.lead)
    spans = [(round(start * rate), round(end * rate)) for start, end in request.sections]
    notes = note_spans(performance, lead)
    plays = [any(on < end and off > start for on, off in notes) for start, end in spans]
    return balance_stems(raw, rate, spans, lead, plays, config.balance, run)


def _gathered(
    rendered: tuple[StemRoute, ...], grouping: tuple[tuple[str, tuple[str, ...]], ...] | None
) -> tuple[tuple[StemRoute, ...], list[list[int]] | None]:
    """The delivered stems of ``grouping`` (each with the channels of the rendered stems it sums) and, for
    :func:`master`, the indices of those rendered stems; ``(rendered, None)`` when the stems are delivered as
    rendered (no grouping, or one that names each rendered stem alone, in order)."""
    if grouping is None:
        return rendered, None
    index = {stem.name: i for i, stem in enumerate(rendered)}
    unknown = sorted({name for _, names in grouping for name in names} - set(index))
    if unknown:
        raise RenderError(f"the stem grouping names stems the cue does not render: {', '.join(unknown)}")
    groups = [[index[name] for name in names] for _, names in grouping]
    stems = tuple(
        StemRoute(name, tuple(c for i in members for c in rendered[i].channels), tuple(names))
        for (name, names), members in zip(grouping, groups, strict=True)
    )
    if [(s.name, s.groups) for s in stems] == [(s.name, (s.name,)) for s in rendered]:
        return rendered, None
    return stems, groups
