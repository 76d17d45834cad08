"""Rendering and mastering with real FluidSynth (TimGM6mb), checked by independent tools: ffmpeg's ebur128
meter, sox, soundfile, pyloudnorm, and a plain one-bus synth for the null test."""

from __future__ import annotations

import io
import os
import re
import shutil
import struct
import subprocess
import sys
from dataclasses import replace

import mido
import numpy as np
import pytest
import soundfile

from cues.pipelines.render.audio_files import to_pcm, wav_bytes
from cues.pipelines.render.cue_renderer import AudioRequest, CueRenderer
from cues.pipelines.render.file_writer import write_files
from cues.pipelines.render.loudness import integrated_loudness, true_peak_dbtp
from cues.pipelines.render.midi_events import StemRoute, read_performance
from cues.pipelines.render.room import SHARE_STEP, play_room, reverb, step_energies
from cues.pipelines.render.scratch import BLOCK, Scratch, release
from cues.pipelines.render.soundfont import TIMGM6MB, candidates, find_soundfont
from cues.pipelines.render.synth import BusSynth
from cues.pipelines.render.waveform import waveform_peaks
from cues.schemas.brief import Delivery, Ending
from cues.schemas.config import RenderConfig, SynthConfig
from cues.schemas.errors import MidiReadError, SoundfontMissing
from cues.schemas.manifest import Waveform
from cues.schemas.palettes import palettes
from cues.schemas.stem_mix import stem_mix

STEMS = (StemRoute("melody", 0), StemRoute("harmony", 1), StemRoute("bass", 2), StemRoute("drums", 9))
TEMPO_BPM = 120


def cue_midi(bars: int = 4, empty: str | None = None, tempo_bpm: float = TEMPO_BPM) -> bytes:
    """A small four-stem cue in C major, 4/4: melody (piano), harmony (strings), bass, drums (channel 10)."""
    ppq = 480
    bar = 4 * ppq
    parts = {
        "melody": (0, 0, [(i * ppq, ppq, p, 90) for i, p in enumerate([72, 74, 76, 77, 79, 77, 76, 74] * bars)]),
        "harmony": (1, 48, [(b * bar, bar, p, 70) for b in range(bars) for p in (60, 64, 67)]),
        "bass": (2, 33, [(b * bar + h * 2 * ppq, 2 * ppq, 36, 100) for b in range(bars) for h in range(2)]),
        "drums": (9, 0, [(i * ppq, ppq // 2, 36 if i % 2 == 0 else 38, 110) for i in range(4 * bars)]),
    }
    midi = mido.MidiFile(type=1, ticks_per_beat=ppq)
    conductor = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=round(60e6 / tempo_bpm), time=0)])
    conductor.append(mido.MetaMessage("end_of_track", time=bars * bar))
    midi.tracks.append(conductor)
    for name, (channel, program, notes) in parts.items():
        events = [] if name == empty else notes
        timed = []
        for start, length, pitch, velocity in [e for e in events if e[0] < bars * bar]:
            timed.append((start + length, 0, mido.Message("note_off", channel=channel, note=pitch, velocity=0)))
            timed.append((start, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
        timed.sort(key=lambda t: (t[0], t[1]))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        now = 0
        for tick, _, message in timed:
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=max(0, bars * bar - now)))
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def soundfont():
    return find_soundfont(next(p for p in candidates() if p.name == "TimGM6mb.sf2" and p.is_file()))


@pytest.fixture(scope="module")
def renderer(soundfont):
    with CueRenderer(RenderConfig(soundfont=str(soundfont.path))) as r:
        yield r


def request(ending: Ending, delivery: Delivery | None = None, midi: bytes | None = None, bars: int = 4, **kw):
    delivery = delivery or Delivery(loudness=-23.0, formats=("wav", "flac", "mp3"))
    length_s = bars * 4 * 60 / TEMPO_BPM
    return AudioRequest(midi or cue_midi(bars), STEMS, length_s, ending, delivery, fade_s=2.0, title="t", **kw)


def ffmpeg_ebur128(path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) as ffmpeg's ebur128 filter measures them."""
    run = subprocess.run(
        ["ffmpeg", "-hide_banner", "-nostats", "-i", str(path), "-af", "ebur128=peak=true", "-f", "null", "-"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = run.stderr[run.stderr.rindex("Summary:") :]
    integrated = float(re.search(r"I:\s+(-?[\d.]+) LUFS", summary).group(1))
    peak = float(re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary).group(1))
    return integrated, peak


# --- exact stems --------------------------------------------------------------------------------------------


def test_stems_from_one_pass_sum_to_the_one_bus_mix_and_separate_passes_do_not(soundfont):
    performance = read_performance(cue_midi(), 48000, STEMS)
    samples = performance.length_samples + 48000
    with BusSynth(soundfont, 48000, 4, SynthConfig()) as buses, BusSynth(soundfont, 48000, 1, SynthConfig()) as one:
        stems = buses.render(performance, samples)
        [mix] = one.render(performance, samples)
        assert stems.shape == (4, 2, samples) and np.abs(mix).max() > 0.05
        residual = np.abs(stems.sum(axis=0, dtype=np.float64) - mix).max()
        assert 20 * np.log10(residual / 1.0) <= -90  # dBFS

        # The control: each stem rendered alone, as separate passes would, does not null against the mix.
        alone = []
        for index in range(4):
            solo = replace(performance, events=tuple(e for e in performance.events if e.channel == index))
            alone.append(one.render(solo, samples)[0])
        assert 20 * np.log10(np.abs(np.sum(alone, axis=0) - mix).max()) > -90


def test_rendering_twice_with_a_reused_synth_gives_identical_files(renderer):
    first = renderer.render(request(Ending.button))
    second = renderer.render(request(Ending.button))
    assert first.files["mix.wav"][:4] == b"RIFF"
    for name in ("mix.wav", "mix.flac", "stems/drums.wav"):
        assert first.files[name] == second.files[name], name  # byte for byte: no clock in any file


@pytest.mark.parametrize("ending", [Ending.ring_out, Ending.loop])
def test_a_render_gives_the_same_files_on_one_thread_and_on_two(soundfont, ending):
    # render_threads.py: the stems' synth passes and strips, their section levels and the files run side by side,
    # two synths borrowing one soundfont at once; nothing may depend on which piece finishes first.
    asked = request(ending, Delivery(loudness=-16.0, formats=("wav", "flac", "mp3")), lead="melody", bars=6)
    asked = replace(asked, sections=((0.0, 6.0), (6.0, 12.0)))
    found = []
    for threads in (1, 2, 2):
        with CueRenderer(RenderConfig(soundfont=str(soundfont.path)), threads=threads) as renderer:
            audio = renderer.render(asked)
            found.append(({name: audio.files[name] for name in audio.paths}, audio.file_info, audio.summary))
            audio.close()
    assert len(found[0][0]) == 2 * (len(STEMS) + 1) + 1 and found[0][2]["balance"]["sections"]
    assert found[1] == found[0] and found[2] == found[0]


def test_delivered_stem_files_sum_to_the_mix_before_the_limiter(renderer, tmp_path):
    audio = renderer.render(request(Ending.cut, Delivery(loudness=-23.0, formats=("wav",))))
    assert not audio.summary["limiter"]["engaged"]
    mix, rate = soundfile.read(io.BytesIO(audio.files["mix.wav"]))
    total = sum(soundfile.read(io.BytesIO(audio.files[f"stems/{s.name}.wav"]))[0] for s in STEMS)
    assert 20 * np.log10(np.abs(total - mix).max()) <= -90
    assert audio.file_info["mix.wav"]["stems_sum_residual_dbfs"] <= -120  # 24-bit rounding of four stems
    overview = Waveform.model_validate(audio.summary["waveform"])  # the report's waveform: this mix's peaks
    heard = waveform_peaks(mix.T, rate)
    assert overview.samples_per_bin == heard["samples_per_bin"] and len(overview.high) == len(heard["high"]) <= 400
    assert np.abs(np.array([overview.high, overview.low]) - [heard["high"], heard["low"]]).max() <= 1
    assert max(overview.high) > 20  # a mix at -23 LUFS peaks well above a sixth of full scale
    assert [s["treatment"] for s in audio.summary["mix"]["stems"].values()] == [  # the stems are the mixed ones
        "melody",
        "keys_pads",
        "bass",
        "keys_pads",
    ]


# --- loudness and true peak -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("loudness", "ceiling", "limited"),
    [(-23.0, -1.0, False), (-16.0, -1.0, None), (-10.0, -2.0, True)],
)
def test_loudness_and_true_peak_meet_the_target_by_ffmpeg(renderer, tmp_path, loudness, ceiling, limited):
    delivery = Delivery(loudness=loudness, true_peak=ceiling, formats=("wav",))
    audio = renderer.render(request(Ending.ring_out, delivery, bars=8))
    path = tmp_path / "mix.wav"
    path.write_bytes(audio.files["mix.wav"])
    measured, peak = ffmpeg_ebur128(path)
    assert abs(measured - loudness) <= 0.5
    assert peak <= ceiling + 0.1
    info = audio.file_info["mix.wav"]
    assert abs(info["loudness_lufs"] - loudness) <= 0.1 and info["true_peak_dbtp"] <= ceiling
    report = audio.summary["limiter"]
    if limited is not None:
        assert report["engaged"] is limited
    if report["engaged"]:
        assert report["max_gain_reduction_db"] > 0
        # stems are never limited, nor clipped: a common trim keeps them in their files, and undone it gives
        # back the mix as it was before the limiter, which peaks above the ceiling
        assert all(audio.file_info[f"stems/{s.name}.wav"]["clipped_samples"] == 0 for s in STEMS)
        assert info["stems_sum_residual_dbfs"] <= -90
        stems = sum(soundfile.read(io.BytesIO(audio.files[f"stems/{s.name}.wav"]))[0] for s in STEMS)
        assert true_peak_dbtp(stems.T) - audio.summary["stem_trim_db"] > ceiling


def test_our_meter_agrees_with_pyloudnorm():
    import pyloudnorm

    rng = np.random.default_rng(1)
    t = np.arange(48000 * 5) / 48000
    audio = np.stack([0.2 * np.sin(2 * np.pi * 220 * t), 0.1 * rng.standard_normal(t.size)])
    audio[:, 48000:96000] *= 0.01  # a quiet second, so both gates matter
    assert integrated_loudness(audio, 48000) == pytest.approx(
        pyloudnorm.Meter(48000).integrated_loudness(audio.T), abs=0.01
    )


def test_true_peak_finds_the_peak_between_samples():
    n = np.arange(48000)
    audio = 0.5 * np.sin(2 * np.pi * 12000 * n / 48000 + np.pi / 4)[None]  # samples at ±0.354, wave at ±0.5
    assert 20 * np.log10(np.abs(audio).max()) == pytest.approx(-9.03, abs=0.01)
    assert true_peak_dbtp(audio) == pytest.approx(-6.02, abs=0.1)


# --- endings and lengths ------------------------------------------------------------------------------------


@pytest.mark.parametrize("ending", [Ending.button, Ending.cut, Ending.fade, Ending.loop])
@pytest.mark.parametrize("rate", [44100, 48000])
def test_exact_lengths(renderer, ending, rate):
    audio = renderer.render(request(ending, Delivery(loudness=-23.0, sample_rate=rate, formats=("wav",))))
    mix, got_rate = soundfile.read(io.BytesIO(audio.files["mix.wav"]))
    assert got_rate == rate and mix.shape[0] == 8 * rate  # 4 bars of 4/4 at 120 bpm = 8 s
    for stem in STEMS:
        assert soundfile.info(io.BytesIO(audio.files[f"stems/{stem.name}.wav"])).frames == 8 * rate
    if ending != Ending.loop:
        assert np.abs(mix[-1]).max() < 1e-6  # de-clicked to silence


def test_ring_out_keeps_a_tail_that_ends_below_the_floor(renderer):
    audio = renderer.render(request(Ending.ring_out))
    mix, rate = soundfile.read(io.BytesIO(audio.files["mix.wav"]))
    tail = mix.shape[0] - 8 * rate
    assert 0 < tail <= 4 * rate and audio.summary["tail_samples"] == tail
    last_10ms = np.abs(mix[-480:]).max()
    assert 20 * np.log10(max(last_10ms, 1e-12)) < -60


def test_a_loop_is_seamless(renderer):
    audio = renderer.render(request(Ending.loop))
    for name in ["mix.wav", *(f"stems/{s.name}.wav" for s in STEMS)]:
        signal, _ = soundfile.read(io.BytesIO(audio.files[name]))
        inside = np.abs(np.diff(signal, axis=0))
        seam = np.abs(signal[0] - signal[-1])
        assert (seam <= np.percentile(inside, 99, axis=0)).all(), name
    # and the tail of the end sounds at the start: the first samples are not silent, as a cold start would be
    mix, _ = soundfile.read(io.BytesIO(audio.files["mix.wav"]))
    assert np.abs(mix[:10]).max() > 1e-4
    assert audio.summary["mix"]["stems"]["melody"]["send_db"] is not None  # mixed as a ring, reverb and all


# --- the mix ------------------------------------------------------------------------------------------------

SEATED = (StemRoute("melody", 0), StemRoute("strings", 1), StemRoute("bass", 2), StemRoute("drums_perc", 9))


def side_db(stem: np.ndarray) -> float:
    """Left minus right energy of a stereo stem (2, samples), dB: > 0 sits left."""
    left, right = (float(np.vdot(channel, channel)) for channel in stem)
    return 10 * np.log10(left / right)


def test_the_mix_seats_the_stems_and_changes_their_sound(renderer, soundfont):
    seated = replace(request(Ending.cut), stems=SEATED)
    mixed = renderer.master_cue(seated)
    with CueRenderer(RenderConfig(soundfont=str(soundfont.path), mix=False)) as plain:
        raw = plain.master_cue(seated)
    stems = dict(zip([s.name for s in SEATED], mixed.mastered.stems, strict=True))
    assert abs(side_db(stems["melody"])) < 0.5  # the lead centred
    assert side_db(stems["strings"]) > side_db(stems["bass"]) + 2  # violins left of the cellos and basses
    for index, stem in enumerate(SEATED):  # not a no-op: every stem is changed (EQ, compressor, reverb, seat)
        before, after = raw.mastered.stems[index], mixed.mastered.stems[index]
        change = np.abs(after / np.abs(after).max() - before / np.abs(before).max()).max()
        assert change > 0.05, stem.name
    assert [s.treatment for s in mixed.strips] == ["melody", "strings", "bass", "drums_perc"] and not raw.strips


def test_the_rooms_return_is_shared_out_among_the_stems_that_sent_to_it():
    rate = 48000
    stems = np.random.default_rng(1).standard_normal((3, 2, 3 * rate)).astype(np.float32) * 0.1
    stems[1, :, rate // 5 :] = 0.0  # stops after 0.2 s
    stems[2, :, : 2 * rate] = 0.0  # enters at 2 s
    before = stems.copy()
    space = stem_mix().space
    play_room(stems, [0, 1, 2], [1.0, 1.0, 1.0], [step_energies(stem) for stem in before], space, rate)
    returns = stems - before
    shared = reverb(space)(before.sum(axis=0), rate)
    assert np.abs(shared).max() > 0.01
    assert 20 * np.log10(np.abs(returns.sum(axis=0) - shared).max()) <= -90  # dBFS: the stems still null

    def energy_db(audio: np.ndarray) -> float:
        return 10 * np.log10(float(np.vdot(audio, audio)) + 1e-30)

    quiet, late = slice(rate + rate // 2, 2 * rate), slice(2 * rate + rate // 2, 3 * rate)
    assert energy_db(returns[1, :, quiet]) < energy_db(returns[0, :, quiet]) - 20  # its reverb has died away
    assert energy_db(returns[2, :, : 2 * rate - 2 * SHARE_STEP]) < -200  # nothing before it enters (to a step)
    assert abs(energy_db(returns[2, :, late]) - energy_db(returns[0, :, late])) < 3  # two alike share alike


def test_soundfonts_by_name_and_per_palette(soundfont, tmp_path):
    assert find_soundfont("timgm6mb").path == TIMGM6MB.resolve() or not TIMGM6MB.is_file()
    table = palettes()
    calm = table.moods["calm"].model_copy(update={"soundfont": "fluidr3"})
    own = table.model_copy(update={"moods": {**table.moods, "calm": calm}})
    with CueRenderer(RenderConfig(soundfont=str(soundfont.path)), palettes=own) as renderer:
        assert renderer.identity_of("calm")["soundfont"] == find_soundfont("fluidr3").sha256  # in the render key
        assert renderer.identity_of("sad")["soundfont"] == soundfont.sha256 == renderer.identity["soundfont"]
    missing = calm.model_copy(update={"soundfont": str(tmp_path / "none.sf3")})
    with pytest.raises(SoundfontMissing, match=r"none.sf3' does not exist.*apt-get install fluid-soundfont-gm"):
        CueRenderer(
            RenderConfig(soundfont=str(soundfont.path)),
            palettes=table.model_copy(update={"moods": {**table.moods, "calm": missing}}),
        )


# --- files --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rate", "bits"), [(44100, 16), (48000, 24)])
def test_files_are_readable_by_soundfile_and_sox(renderer, tmp_path, rate, bits):
    delivery = Delivery(loudness=-18.0, sample_rate=rate, bit_depth=bits, formats=("wav", "flac", "mp3"))
    audio = renderer.render(request(Ending.button, delivery))
    for name in ("mix.wav", "mix.flac", "stems/bass.wav", "stems/bass.flac"):
        path = tmp_path / name.replace("/", "-")
        path.write_bytes(audio.files[name])
        info = soundfile.info(str(path))
        assert (info.samplerate, info.channels, info.frames) == (rate, 2, 8 * rate)
        assert info.subtype == f"PCM_{bits}"
        sox = subprocess.run(["sox", "--i", str(path)], capture_output=True, text=True, check=True).stdout
        assert f"Sample Rate    : {rate}" in sox and f"Precision      : {bits}-bit" in sox
    wav = soundfile.read(str(tmp_path / "mix.wav"), dtype="int32")[0]
    flac = soundfile.read(str(tmp_path / "mix.flac"), dtype="int32")[0]
    assert np.array_equal(wav, flac)  # one signal, two containers
    (tmp_path / "preview.mp3").write_bytes(audio.files["preview.mp3"])
    sox = subprocess.run(["sox", "--i", str(tmp_path / "preview.mp3")], capture_output=True, text=True, check=True)
    assert "MPEG audio" in sox.stdout or "mp3" in sox.stdout.lower()


def test_wav_carries_a_bext_chunk_with_loudness(renderer):
    hour = 3600 * 48000  # a file that starts at 01:00:00:00
    delivery = Delivery(loudness=-20.0, formats=("wav",))
    audio = renderer.render(request(Ending.cut, delivery, reference="k-abc", time_reference=hour))
    data = audio.files["mix.wav"]
    at = data.index(b"bext")
    size = struct.unpack("<I", data[at + 4 : at + 8])[0]
    payload = data[at + 8 : at + 8 + size]
    assert payload[:256].rstrip(b"\x00") == b"mix of t"
    assert payload[256:288].rstrip(b"\x00") == b"cues" and payload[288:320].rstrip(b"\x00") == b"k-abc"
    assert payload[320:338] == bytes(18)  # origination date and time: empty, so re-renders are identical
    assert struct.unpack("<Q", payload[338:346]) == (hour,)  # TimeReference, samples since midnight
    (version,) = struct.unpack("<H", payload[346:348])
    loudness, _, peak = struct.unpack("<hhh", payload[412:418])
    assert version == 2 and loudness == -2000
    # the chunk rounds the peak to 0.01 dB, the manifest to 0.001: -7.4651 is -747 there and -7.465 here
    assert abs(peak - audio.file_info["mix.wav"]["true_peak_dbtp"] * 100) <= 0.5 + 0.05
    assert payload[602:].startswith(b"A=PCM,F=48000,W=24")


# --- bad input and odd cues ---------------------------------------------------------------------------------


def test_a_cue_with_an_empty_stem_renders_and_flags_it(renderer):
    audio = renderer.render(request(Ending.button, midi=cue_midi(empty="drums")))
    assert audio.summary["silent_stems"] == ["drums"]
    assert audio.file_info["stems/drums.wav"]["silent"] and not audio.file_info["stems/bass.wav"]["silent"]
    drums, _ = soundfile.read(io.BytesIO(audio.files["stems/drums.wav"]))
    assert drums.shape[0] == 8 * 48000 and not drums.any()


def test_fade_ends_in_silence_after_fading_over_the_last_bar(renderer):
    audio = renderer.render(request(Ending.fade))
    mix, rate = soundfile.read(io.BytesIO(audio.files["mix.wav"]))
    level = [np.sqrt(np.mean(mix[int(a * rate) : int(b * rate)] ** 2)) for a, b in ((5.0, 5.5), (7.5, 8.0))]
    assert level[1] < level[0] / 4 and mix.shape[0] == 8 * rate


def test_a_cue_with_no_sound_at_all_is_a_clear_error(renderer):
    from cues.schemas.errors import RenderError

    silent = mido.MidiFile(type=1, ticks_per_beat=480)
    silent.tracks.append(mido.MidiTrack([mido.MetaMessage("end_of_track", time=480 * 16)]))
    buffer = io.BytesIO()
    silent.save(file=buffer)
    with pytest.raises(RenderError, match="renders as silence"):
        renderer.render(request(Ending.button, midi=buffer.getvalue()))


def test_a_missing_soundfont_says_what_to_install(tmp_path):
    with pytest.raises(SoundfontMissing, match=r"does not exist.*apt-get install fluid-soundfont-gm"):
        find_soundfont(tmp_path / "nope.sf2")
    with pytest.raises(SoundfontMissing, match="FluidSynth could not load soundfont"):
        (tmp_path / "junk.sf2").write_bytes(b"not a soundfont")
        BusSynth(find_soundfont(tmp_path / "junk.sf2"), 48000, 2, SynthConfig())


def test_the_soundfont_fallback_order():
    found = find_soundfont()
    assert found.path in [p for p in candidates() if p.is_file()][:1]
    if TIMGM6MB.is_file():
        assert len(find_soundfont(TIMGM6MB).sha256) == 64


def test_corrupt_midi_is_a_clear_error():
    with pytest.raises(MidiReadError, match="not a readable MIDI file"):
        read_performance(b"MThd garbage", 48000)
    with pytest.raises(MidiReadError, match="notes on MIDI channel 10, which no stem takes"):
        read_performance(cue_midi(), 48000, STEMS[:3])


def test_event_times_are_exact_through_tempo_changes():
    midi = mido.MidiFile(type=0, ticks_per_beat=480)
    midi.tracks.append(
        mido.MidiTrack(
            [
                mido.MetaMessage("set_tempo", tempo=500_000, time=0),  # 120 bpm
                mido.Message("note_on", note=60, velocity=90, time=0),
                mido.MetaMessage("set_tempo", tempo=400_000, time=960),  # 150 bpm after 1 s
                mido.Message("note_off", note=60, velocity=0, time=480),  # + 0.4 s
                mido.MetaMessage("end_of_track", time=3 * 480),  # + 1.2 s
            ]
        )
    )
    buffer = io.BytesIO()
    midi.save(file=buffer)
    performance = read_performance(buffer.getvalue(), 44100)
    assert [e.sample for e in performance.events if e.kind.startswith("note")] == [0, 61740]
    assert performance.length_samples == round(2.6 * 44100)


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="the fluidsynth command is not installed")
def test_the_one_bus_render_matches_the_fluidsynth_command_in_loudness(soundfont, tmp_path):
    """Our synth plays the file as the fluidsynth command does (same notes, same sounds)."""
    (tmp_path / "cue.mid").write_bytes(cue_midi())
    subprocess.run(
        [
            "fluidsynth",
            "-ni",
            "-q",
            "-r",
            "48000",
            "-F",
            str(tmp_path / "cli.wav"),
            str(soundfont.path),
            str(tmp_path / "cue.mid"),
        ],
        check=True,
        capture_output=True,
    )
    cli, _ = soundfile.read(str(tmp_path / "cli.wav"))
    performance = read_performance(cue_midi(), 48000, STEMS)
    with BusSynth(soundfont, 48000, 1, SynthConfig()) as one:
        [ours] = one.render(performance, performance.length_samples + 48000)
    assert integrated_loudness(ours, 48000) == pytest.approx(integrated_loudness(cli.T, 48000), abs=1.0)


def test_loading_fluidsynth_prints_nothing_even_where_ci_is_set():
    # pyfluidsynth prints "'fluidsynth' was found at ..." on import when CI is set (and pretty_midi imports it): on
    # the CI runner that line landed in `cues submit`'s stdout, which carries tables and JSON
    code = (
        "from cues.pipelines.render.soundfont import candidates\n"
        "from cues.pipelines.render.synth import _library\n"
        "from cues.pipelines.preprocess.melody import WorkDropped, melody_from_midi\n"
        "candidates()\n"
        "try:\n    melody_from_midi(b'', 4)\nexcept WorkDropped:\n    pass\n"
        "_library()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "CI": "1"}, check=True
    )
    assert done.stdout == ""


def test_a_signal_written_in_blocks_from_a_released_scratch_file_is_the_whole_signal_quantised(tmp_path):
    """The memory bound's mechanism (issue 17): a signal in a scratch file whose pages were released keeps its
    samples, and the files written from it block by block hold what ``to_pcm`` gives for the whole signal (the
    16-bit dither one stream across blocks); with no bext, the WAV is ``wav_bytes``'s byte for byte."""
    rng = np.random.default_rng(3)
    signal = (rng.standard_normal((2, 3 * BLOCK + 17)) * 0.3).astype(np.float32)
    with Scratch(memory_budget_mb=0) as scratch:  # every signal a file
        audio = scratch.array(signal.shape)
        audio[:] = signal
        release(audio)
        assert np.array_equal(audio, signal)
        for bits in (16, 24):
            wav, flac = tmp_path / f"{bits}.wav", tmp_path / f"{bits}.flac"
            written = write_files(audio, 48000, bits, 5, wav=wav, flac=flac)
            whole = to_pcm(signal, bits, 5)
            assert (written.frames, written.clipped) == (whole.frames, whole.clipped)
            assert wav.read_bytes() == wav_bytes(whole, 48000)
            decoded, _ = soundfile.read(flac, dtype="int32")
            assert np.array_equal(decoded >> (32 - bits), whole.samples)
