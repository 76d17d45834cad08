"""Humanised performance (pipelines/compose/performance.py) on real composed cues: it varies timing and velocity
a little, deterministically, and keeps what the brief promises exact (hits, section downbeats, drums' grid,
lengths, a loop's seam)."""

import io

import mido
import pytest

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.drum_kit import drum_note
from cues.pipelines.compose.drums import drum_kit
from cues.pipelines.compose.midi_file import TICKS_PER_STEP, midi_bytes, midi_length_us
from cues.pipelines.compose.performance import MAX_DEVIATIONS, articulation, perform
from cues.pipelines.render.midi_events import read_performance
from cues.schemas.brief import Brief
from cues.schemas.grooves import Drum

RATE = 48000


@pytest.fixture(scope="module")
def cues():
    models = ComposerModels.load()
    briefs = {
        "hits": {"id": "h", "medium": "film", "mood": ["tense", "action"], "length": 30, "hits": [9.0, 21.5]},
        "loop": {"id": "l", "medium": "game", "mood": "happy", "length": 16, "ending": "loop"},
    }
    resolved = {name: Brief.model_validate(fields).resolve() for name, fields in briefs.items()}
    return {name: compose_cue(brief, brief.seed, None, models) for name, brief in resolved.items()}


def played_parts(cue) -> dict[str, list]:
    return {part.name: perform(cue.score, part.name, TICKS_PER_STEP) for part in cue.plan.parts}


def test_timing_and_velocity_vary_a_few_ms_and_steps_and_never_more(cues):
    cue = cues["hits"]
    melody = sorted(cue.score.parts["lead"])
    played = perform(cue.score, "lead", TICKS_PER_STEP)
    assert len(played) == len(melody)
    off_grid = [p for p in played if p.on % TICKS_PER_STEP]
    assert len(off_grid) > len(played) / 3  # most notes leave the grid: a player, not a sequencer
    assert len({p.velocity for p in played}) > len({n.velocity for n in melody}) + 3
    tick_ms = cue.plan.tempo_map_us[0][3] / cue.plan.tempo_map_us[0][1] / TICKS_PER_STEP / 1000
    style = articulation(cue.plan, "lead")
    for note, play in zip(melody, played, strict=True):  # no chord in the lead: one played note per written one
        assert abs(play.on - note.start * TICKS_PER_STEP) * tick_ms <= MAX_DEVIATIONS * style.timing_ms + tick_ms
        assert abs(play.velocity - note.velocity) <= MAX_DEVIATIONS * style.velocity_steps + style.swell + 1


def test_the_same_plan_plays_the_same_and_the_file_is_byte_identical(cues):
    cue = cues["hits"]
    assert played_parts(cue) == played_parts(cue)
    assert midi_bytes(cue.score) == midi_bytes(cue.score) == cue.midi


def test_hits_section_downbeats_and_drums_stay_exact(cues):
    cue = cues["hits"]
    plan = cue.plan
    exact = set(cue.score.accents) | {s.start_bar * plan.steps_per_bar for s in plan.sections}
    for name, played in played_parts(cue).items():
        # a pitch struck twice at once (a hit's chord over the chord already there) sounds once, the louder
        written: dict[tuple[int, int], int] = {}
        for n in cue.score.parts[name]:
            if n.start in exact:
                key = (n.start * TICKS_PER_STEP, n.pitch)
                written[key] = max(written.get(key, 0), n.velocity)
        assert written.items() <= {(p.on, p.pitch): p.velocity for p in played}.items(), name
    drums = next(p.name for p in plan.parts if p.channel == 9)
    longest: dict[tuple[int, int], int] = {}  # a double strike (a hit's landing on a groove's stroke) sounds once,
    for n in cue.score.parts[drums]:  # as long as the longer of the two
        key = (n.start * TICKS_PER_STEP, n.pitch)
        longest[key] = max(longest.get(key, 0), n.end * TICKS_PER_STEP)
    grid = {(on, off, pitch) for (on, pitch), off in longest.items()}
    assert {(p.on, p.off, p.pitch) for p in played_parts(cue)[drums]} == grid
    # every hit still lands on its sample: a crash within 10 ms of the time asked for
    performance = read_performance(cue.midi, RATE)
    crash = drum_note(Drum.crash, drum_kit(plan), plan.tonic)  # 49 on a standard kit, 57 on the orchestra kit
    crashes = [e.sample / RATE for e in performance.events if e.kind == "note_on" and e.data1 == crash]
    for hit in plan.hits:
        assert min(abs(t - hit.requested_s) for t in crashes) <= 0.010


@pytest.mark.parametrize("name", ["hits", "loop"])
def test_nothing_crosses_the_ends_and_a_pitch_is_released_before_it_is_struck_again(cues, name):
    cue = cues[name]
    end = cue.plan.total_steps * TICKS_PER_STEP
    assert midi_length_us(cue.midi) == round(cue.plan.length_s * 1e6)
    for played in played_parts(cue).values():
        assert all(0 <= p.on < p.off <= end for p in played)
        by_pitch: dict[int, list] = {}
        for p in played:
            by_pitch.setdefault(p.pitch, []).append(p)
        for notes in by_pitch.values():
            assert all(a.off <= b.on for a, b in zip(notes, notes[1:], strict=False))


def test_a_loop_starts_on_its_first_sample_and_no_note_rings_over_its_seam(cues):
    cue = cues["loop"]
    midi = mido.MidiFile(file=io.BytesIO(cue.midi))
    end = cue.plan.total_steps * TICKS_PER_STEP
    for track in midi.tracks[1:]:
        tick, ons, offs = 0, [], []
        for message in track:
            tick += message.time
            if message.type == "note_on" and message.velocity:
                ons.append(tick)
            elif message.type in ("note_off", "note_on"):
                offs.append(tick)
        if ons:
            assert min(ons) == 0 and max(offs) <= end


def test_the_lead_is_slurred_and_short_chords_are_detached(cues):
    cue = cues["hits"]
    melody = perform(cue.score, "lead", TICKS_PER_STEP)
    slurred = [a for a, b in zip(melody, melody[1:], strict=False) if a.off > b.on and a.pitch != b.pitch]
    assert len(slurred) > len(melody) / 4
    short = [n for n in cue.score.parts["figure"] if n.end - n.start <= cue.plan.steps_per_beat]
    assert short  # the action cue's figure plays notes of a beat or less
    played = perform(cue.score, "figure", TICKS_PER_STEP)
    lengths = sorted(p.off - p.on for p in played)
    assert lengths[0] < min(n.end - n.start for n in short) * TICKS_PER_STEP
