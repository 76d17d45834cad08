"""The lead-on-top mixing rule (pipelines/render/balance.py): on stems whose levels are known, through the real
renderer (stems still sum to the mix, loudness and true peak hold), and on one real composed cue."""

import io

import mido
import numpy as np
import pytest

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.texture import plays_in_sections
from cues.pipelines.generate.cue_writer import audio_request
from cues.pipelines.render.balance import SectionBalance, apply_faders, balance_stems, section_faders, section_levels
from cues.pipelines.render.cue_renderer import AudioRequest, CueRenderer
from cues.pipelines.render.dynamics import LevelMeter, lead_margins
from cues.pipelines.render.midi_events import StemRoute
from cues.pipelines.render.soundfont import candidates, find_soundfont
from cues.schemas.brief import Brief, Delivery, Ending
from cues.schemas.config import BalanceConfig, RenderConfig

RATE = 48000
CONFIG = BalanceConfig()


def tone(seconds: float, dbfs: float, hz: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return np.tile(10 ** (dbfs / 20) * np.sin(2 * np.pi * hz * t), (2, 1)).astype(np.float32)


def stems_of(lead: list[float], others: list[list[float]], seconds: float = 4.0) -> np.ndarray:
    """Stems (lead first) of tones near 1 kHz (where K-weighting is flat) whose peak level (dBFS) per section is
    given; None = silent."""
    rows = []
    for levels, hz in zip([lead, *others], (997.0, 1013.0, 983.0), strict=False):
        rows.append(np.concatenate([tone(seconds, db if db is not None else -400, hz) for db in levels], axis=1))
    return np.stack(rows)


def spans(sections: int, seconds: float = 4.0) -> list[tuple[int, int]]:
    step = round(seconds * RATE)
    return [(i * step, (i + 1) * step) for i in range(sections)]


def margins_of(stems: np.ndarray, sections: int) -> list[float]:
    meters = {str(i): LevelMeter(audio, RATE) for i, audio in enumerate(stems)}
    seconds = [(a / RATE, b / RATE) for a, b in spans(sections)]
    return lead_margins(meters, "0", seconds, [True] * sections)


def test_a_lead_8_db_under_comes_up_within_3_db_and_the_section_keeps_its_level():
    stems = stems_of([-28, -20], [[-20, -20], [-26, -26]])
    before = section_levels(stems.sum(axis=0, keepdims=True), RATE, spans(2))[0]
    balances = balance_stems(stems, RATE, spans(2), 0, [True, True], CONFIG)
    first, second = margins_of(stems, 2)
    assert balances[0].margin_db == pytest.approx(-8.0, abs=0.2)
    assert -3.0 <= first <= 3.0 and first == pytest.approx(-2.0, abs=0.3)  # to the window's edge, −2 dB
    assert balances[0].lead_db > 4 and balances[0].accompaniment_db < 0  # the move is shared
    assert second == pytest.approx(0.0, abs=0.3) and balances[1].lead_db == balances[1].accompaniment_db == 0.0
    after = section_levels(stems.sum(axis=0, keepdims=True), RATE, spans(2))[0]
    assert after == pytest.approx(before, abs=0.3)  # the arc is the arrangement's, not the mix's


def test_a_lead_already_on_top_is_left_untouched():
    stems = stems_of([-18, -19], [[-19, -19], [-24, -30]])
    original = stems.copy()
    balances = balance_stems(stems, RATE, spans(2), 0, [True, True], CONFIG)
    assert all(b.lead_db == b.accompaniment_db == 0.0 for b in balances)
    assert np.array_equal(stems, original)


def test_a_lead_shouting_over_a_thin_accompaniment_comes_down_to_the_window():
    stems = stems_of([-10], [[-22]])
    balance_stems(stems, RATE, spans(1), 0, [True], CONFIG)
    assert margins_of(stems, 1)[0] == pytest.approx(2.0, abs=0.3)


def test_faders_stop_at_their_limits_and_the_lead_takes_what_the_accompaniment_cannot():
    levels = np.array([[-60.0], [-20.0]])  # 40 dB under: more than both faders can move
    (balance,) = section_faders(levels, 0, [True], CONFIG)
    assert balance.lead_db == CONFIG.lead_range_db[1] and balance.accompaniment_db == CONFIG.accompaniment_range_db[0]
    assert balance.balanced_margin_db == pytest.approx(-40 + 24 + 12)


def test_where_the_lead_is_silent_its_fader_holds_and_the_accompaniment_returns_to_0_db():
    levels = np.array([[-30.0, -120.0, -30.0], [-20.0, -20.0, -20.0]])
    balances = section_faders(levels, 0, [True, False, True], CONFIG)
    assert balances[1].lead_db == balances[0].lead_db > 0 and balances[1].accompaniment_db == 0.0
    assert balances[1].margin_db is None


def test_faders_ramp_across_a_boundary_without_a_click():
    stems = np.ones((2, 2, 8 * RATE), dtype=np.float32)  # DC: the stems become their gain curves
    faders = [SectionBalance(12.0, -3.0, -10.0, -2.0), SectionBalance(0.0, 0.0, 0.0, 0.0)]
    apply_faders(stems, RATE, spans(2), 0, faders, ramp_s=0.25)
    lead, accompaniment = stems[0, 0], stems[1, 0]
    assert lead[0] == pytest.approx(10 ** (12 / 20)) and lead[-1] == 1.0
    assert accompaniment[RATE] == pytest.approx(10 ** (-3 / 20), rel=1e-6)
    ramp = lead[4 * RATE - RATE // 8 - 10 : 4 * RATE + RATE // 8 + 10]
    assert np.all(np.diff(ramp) <= 0)  # monotonic, over 250 ms: no step anywhere
    assert np.abs(np.diff(lead)).max() < 3.0 / (0.25 * RATE) * 2  # steepest step of a raised cosine of 12 dB


# --- through the renderer -----------------------------------------------------------------------------------


def buried_lead_midi(bars: int = 6) -> bytes:
    """A flute melody at velocity 50 over loud strings, bass and drums, 120 bpm 4/4: the lead is buried."""
    ppq, bar = 480, 1920
    parts = {
        "melody": (0, 73, [(i * ppq, ppq, p, 50) for i, p in enumerate([72, 74, 76, 77, 79, 77, 76, 74] * bars)]),
        "harmony": (1, 48, [(b * bar, bar, p, 120) for b in range(bars) for p in (60, 64, 67, 72)]),
        "bass": (2, 33, [(b * bar + h * 2 * ppq, 2 * ppq, 36, 110) for b in range(bars) for h in range(2)]),
        "drums": (9, 0, [(i * ppq, ppq // 2, 36 if i % 2 == 0 else 38, 120) for i in range(4 * bars)]),
    }
    midi = mido.MidiFile(type=1, ticks_per_beat=ppq)
    midi.tracks.append(mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)]))
    for name, (channel, program, notes) in parts.items():
        timed = []
        for start, length, pitch, velocity in notes:
            if start < bars * bar:
                timed.append((start + length, 0, mido.Message("note_off", channel=channel, note=pitch)))
                timed.append((start, 1, mido.Message("note_on", channel=channel, note=pitch, velocity=velocity)))
        track = mido.MidiTrack([mido.MetaMessage("track_name", name=name, time=0)])
        track.append(mido.Message("program_change", channel=channel, program=program, time=0))
        now = 0
        for tick, _, message in sorted(timed, key=lambda t: (t[0], t[1])):
            track.append(message.copy(time=tick - now))
            now = tick
        track.append(mido.MetaMessage("end_of_track", time=bars * bar - now))
        midi.tracks.append(track)
    buffer = io.BytesIO()
    midi.save(file=buffer)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def renderer():
    soundfont = find_soundfont(next(p for p in candidates() if p.name == "TimGM6mb.sf2" and p.is_file()))
    with CueRenderer(RenderConfig(soundfont=str(soundfont.path))) as r:
        yield r


@pytest.mark.parametrize("ending", [Ending.ring_out, Ending.loop])
def test_the_renderer_balances_a_buried_lead_and_the_stems_still_sum_to_the_mix(renderer, ending):
    stems = (StemRoute("melody", 0), StemRoute("harmony", 1), StemRoute("bass", 2), StemRoute("drums", 9))
    sections = ((0.0, 6.0), (6.0, 12.0))
    delivery = Delivery(loudness=-16.0, true_peak=-1.0, formats=("wav",))
    request = AudioRequest(buried_lead_midi(), stems, 12.0, ending, delivery, sections=sections, lead="melody")
    audio = renderer.render(request)
    balance = audio.summary["balance"]
    assert balance["lead"] == "melody" and len(balance["sections"]) == 2
    assert all(s["margin_db"] < -3 and s["lead_db"] > 0 for s in balance["sections"])
    assert all(-3 <= s["balanced_margin_db"] <= 3 for s in balance["sections"])
    mix = audio.file_info["mix.wav"]
    assert mix["stems_sum_residual_dbfs"] is None or mix["stems_sum_residual_dbfs"] <= -90
    assert mix["loudness_lufs"] == pytest.approx(-16.0, abs=0.1) and mix["true_peak_dbtp"] <= -1.0
    cue = renderer.master_cue(request)  # the same, as arrays: the delivered stems meet the rule
    length = cue.length_samples
    meters = {r.name: LevelMeter(cue.mastered.stems[i][:, :length], cue.rate) for i, r in enumerate(cue.stems)}
    assert all(-3 <= m <= 3 for m in lead_margins(meters, "melody", sections, [True, True]))


def test_without_a_lead_the_renderer_leaves_the_stems_as_they_are(renderer):
    stems = (StemRoute("melody", 0), StemRoute("harmony", 1), StemRoute("bass", 2), StemRoute("drums", 9))
    delivery = Delivery(loudness=-16.0, formats=("wav",))
    request = AudioRequest(buried_lead_midi(), stems, 12.0, Ending.cut, delivery, sections=((0.0, 12.0),))
    summary = renderer.render(request).summary
    assert summary["balance"] == {"lead": None, "sections": []}


def test_a_real_cue_has_its_lead_within_3_db_of_the_loudest_other_stem_in_every_section():
    # mysterious: the quietest lead of the benchmark before the rule (−18 dB under its accompaniment)
    brief = Brief.model_validate(
        {"id": "lead", "medium": "web", "mood": "mysterious", "length": 16, "form": "AB", "seed": 11}
    ).resolve()
    cue = compose_cue(brief, brief.seed, None, ComposerModels.load())
    with CueRenderer() as renderer:
        audio = renderer.master_cue(audio_request(cue.plan, cue.midi, brief, "test"))
    length = audio.length_samples
    stems = {r.name: LevelMeter(audio.mastered.stems[i][:, :length], audio.rate) for i, r in enumerate(audio.stems)}
    sections = [(s.start_s, s.end_s) for s in cue.plan.sections]
    margins = lead_margins(stems, "melody", sections, plays_in_sections(cue.score, "lead"))
    assert any(m is not None for m in margins)
    assert all(m is None or -3.0 <= m <= 3.0 for m in margins), margins
    assert any(b.lead_db != 0.0 for b in audio.balance)  # the rule acted: this cue's lead was buried
