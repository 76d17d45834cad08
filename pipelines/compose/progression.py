"""Harmony of a cue: chord slots on the plan's grid, filled by the chord LSTM under the key's and the phrases' rules.

A *slot* is a stretch of grid steps with one chord, never crossing a phrase (``phrases.py``) and split at every hit,
so that each hit is a chord change. How long a slot is, is the *harmonic rhythm*: the mood table's chords per bar
(``Plan.harmonic_rhythm``), halved in a section of intensity below ``CALM_BELOW`` and doubled at ``CLIMAX_FROM`` or
above, within ½–2 (a 2/4 bar counts half, as its phrases are eight bars, and 2/4 plays at least a chord every two
bars; 3/4 has no half bar, so at most one chord a bar). Each phrase's last bar is a slot of its own, the *cadence
bar*, so the cadence chord before it and the arrival on it both get their time; a one-bar phrase splits its bar
between the two, and a consequent whose bars before the cadence bar would be one slot splits them in two (a start,
then the cadence chord).

The chord LSTM (trained on the Bach chorales, one chord per beat) proposes each next chord; its distribution is
masked, in this order of precedence:

1. **Phrase ends.** An antecedent ends on a half cadence: the mode's cadence chord (``CADENCE_CHORD``: V, the
   minor's major V, or each mode's own). A consequent ends on a full cadence: the cadence chord, then the tonic in
   the cadence bar; now and then (a seeded ``DECEPTIVE_RATE``) an inner consequent of a major or minor cue that is
   not the cue's last phrase ends deceptively instead, V → vi (VI in minor). The cue's last phrase always closes on
   the tonic, a ``cut`` included: the harmony still cadences, the music just stops there. A ``loop`` ends on the
   cadence chord instead, the turnaround into its first chord, the tonic (which comes first even where a one-bar
   opening phrase then has no room to cadence).
2. **Starts.** The tonic at the start of every ``A`` section and of the cue, held a bar at most (an ``A`` after a
   closed section restarts on the tonic it closed on: the one repeated chord the rules allow, but not at a hit,
   which is always a change); a cue whose first section is not ``A`` and whose first phrase is shorter than four
   bars (eight of 2/4) opens elsewhere, as a cadential formula does (IV–V–I), unless it is a loop.
3. **Movement.** Elsewhere any diatonic triad of the mode except the chord before (so no chord is repeated into the
   next slot, and a hit is always a change) and the chord the next slot must be; the tonic is down-weighted
   (``TONIC_WEIGHT``), so that it is the arrival rather than the resting place: at most about 45 % of bars on it.

Same letter ⇒ same chords: a section's chords are sampled from a generator seeded by the cue's seed and the
section's letter, so ``A`` and ``A'`` share a progression up to their own cadences. The chords' colours (sevenths,
suspensions, …) are chosen per slot by ``chord_colour.pick_colour``; the models see the plain triads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cues.pipelines.compose.chord_colour import Colour, colour_suffix, pick_colour, voiced_pitch_classes
from cues.pipelines.compose.phrases import Phrase, PhraseRole, phrase_bars, phrase_spans
from cues.pipelines.compose.plan import choice
from cues.pipelines.models.features import MODES
from cues.pipelines.music.harmony import QUALITIES, chord_token, diatonic_triads, roman
from cues.schemas.brief import Ending
from cues.schemas.key import Mode
from cues.schemas.plan import Plan, Section

MAJOR_LIKE = {Mode.major, Mode.lydian, Mode.mixolydian}
PHRASE_POSITIONS = 32  # the chord LSTM's clipped "beats since the cadence" embedding
CALM_BELOW = 0.4  # a section quieter than this changes chord half as often as its mood
CLIMAX_FROM = 0.7  # a section at least this intense changes chord twice as often
TONIC_WEIGHT = 0.15  # the tonic's probability in a free slot, relative to the chord LSTM's (which loves it)
DECEPTIVE_RATE = 0.25  # share of inner consequents (full-length phrases) that end V → vi


@dataclass(frozen=True)
class Chord:
    """A chord relative to the key: root in semitones above the tonic, quality index into ``QUALITIES``."""

    root: int
    quality: int

    @property
    def token(self) -> int:
        return chord_token(self.root, self.quality)

    def pitch_classes(self, tonic: int) -> list[int]:
        """Pitch classes from the root up (root, third, fifth, seventh)."""
        return [(tonic + self.root + i) % 12 for i in QUALITIES[self.quality][1]]

    def numeral(self, mode: Mode) -> str:
        return roman(self.root, self.quality, mode)


#: The chord before the final tonic (and a loop's turnaround), per mode: V in major and (raised) minor, and each
#: mode's own cadence chord elsewhere, which keeps modal cues in their scale (root above the tonic, quality).
CADENCE_CHORD = {
    Mode.major: Chord(7, 0),  # V
    Mode.minor: Chord(7, 0),  # V with the raised leading tone, as the chorales cadence
    Mode.dorian: Chord(5, 0),  # IV, the dorian's major subdominant
    Mode.phrygian: Chord(1, 0),  # bII, the phrygian cadence
    Mode.lydian: Chord(2, 0),  # II, the lydian's major supertonic
    Mode.mixolydian: Chord(10, 0),  # bVII
}
#: Where a deceptive cadence lands instead of the tonic (major and minor only).
SUBMEDIANT = {Mode.major: Chord(9, 1), Mode.minor: Chord(8, 0)}


@dataclass(frozen=True)
class Slot:
    """Steps ``start``..``end`` (exclusive) under one chord; ``section`` indexes ``Plan.sections``, ``colour`` is
    how the accompaniment voices it (the models see ``chord`` plain); ``cadence`` marks a phrase's last two chords."""

    start: int
    end: int
    section: int
    chord: Chord
    colour: Colour = Colour.plain
    cadence: bool = False

    def voiced_pitch_classes(self, plan: Plan) -> list[int]:
        """What the accompaniment plays: the chord's pitch classes with its colour, the colour tone last."""
        return voiced_pitch_classes(plan.tonic, plan.mode, self.chord.root, self.chord.quality, self.colour)

    def numeral(self, mode: Mode) -> str:
        """The chord's Roman numeral with its colour: ``V7``, ``Imaj7``, ``IVsus4``, ``iv`` (borrowed)."""
        if self.colour == Colour.borrowed:
            return roman(self.chord.root, 1, mode)
        base = self.chord.numeral(mode)
        suffix = colour_suffix(self.colour, mode, self.chord.root, self.chord.quality)
        if suffix == "7" and base.endswith("°"):
            return base[:-1] + "ø7"
        return base + suffix


@dataclass(frozen=True)
class SlotBounds:
    """Where a slot lies: steps ``start``..``end``, its phrase, and its place in the phrase (0-based, of ``count``)."""

    start: int
    end: int
    phrase: Phrase
    place: int
    count: int


def diatonic_chords(mode: Mode) -> list[Chord]:
    """The seven diatonic triads of ``mode``, degree I first."""
    chords = []
    for _, tones, _ in diatonic_triads(0, mode):
        for root in tones:
            for quality, (_, intervals, _, _) in enumerate(QUALITIES[:4]):
                if {(root + i) % 12 for i in intervals} == tones:
                    chords.append(Chord(root, quality))
    return chords


def harmonic_rhythm(plan: Plan, section: Section) -> float:
    """Chords per bar (per two bars of 2/4) in ``section``: the mood's, scaled by the section's intensity."""
    scale = 0.5 if section.intensity < CALM_BELOW else 2.0 if section.intensity >= CLIMAX_FROM else 1.0
    rate = min(2.0, max(0.5, plan.harmonic_rhythm * scale))
    if plan.meter == "2/4":  # at least a chord every two of its short bars, so none outlasts four with its cadence
        return max(rate, 1.0)
    return min(rate, 1.0) if plan.meter == "3/4" else rate


def slot_bounds(plan: Plan) -> list[SlotBounds]:
    """Every chord slot of the cue, in order (see the module docstring)."""
    unit = plan.steps_per_bar * phrase_bars(plan) // 4  # a 4/4 bar's worth: one bar, two of 2/4
    hits = sorted({h.step for h in plan.hits})
    result = []
    for phrase in phrase_spans(plan):
        start, end = phrase.start_bar * plan.steps_per_bar, phrase.end_bar * plan.steps_per_bar
        if end - start <= unit:  # a one-bar phrase: the cadence chord, then the arrival on the bar's later beats
            edges = _halves(plan, start, end)
        else:
            body_end = end - unit
            length = round(unit / harmonic_rhythm(plan, plan.sections[phrase.section]))
            edges = set(range(start, body_end, length))
            if opens_on_tonic(plan, phrase) and start + unit < min(body_end, start + length):
                edges.add(start + unit)  # the opening tonic lasts a bar at most: the phrase departs from it
            if phrase.role == PhraseRole.consequent and len(edges) < 2:  # room for a start before the cadence chord
                edges = _halves(plan, start, body_end)
            edges |= {body_end}
        edges |= {h for h in hits if start < h < end}
        ordered = sorted(edges) + [end]
        count = len(ordered) - 1
        result += [
            SlotBounds(a, b, phrase, k, count) for k, (a, b) in enumerate(zip(ordered, ordered[1:], strict=False))
        ]
    return result


def _halves(plan: Plan, start: int, end: int) -> set[int]:
    """``start`` and the beat nearest the middle of ``start``..``end`` (rounded down), if there is one."""
    beats = (end - start) // plan.steps_per_beat
    return {start, start + beats // 2 * plan.steps_per_beat} if beats > 1 else {start}


def progression(plan: Plan, chord_model, seed: int) -> list[Slot]:
    """The chord of every slot of the cue (see the module docstring)."""
    bounds = slot_bounds(plan)
    diatonic = diatonic_chords(plan.mode)
    tonic = diatonic[0]
    required = [_required(plan, b, bounds, tonic, seed) for b in bounds]
    hit_steps = {h.step for h in plan.hits}
    mode_index = MODES.index("major" if plan.mode in MAJOR_LIKE else "minor")
    slots: list[Slot] = []
    for index, section in enumerate(plan.sections):
        generator = torch.Generator().manual_seed(_seed(seed, section.name))
        state, since = None, 0
        token = (
            0  # every section starts its phrase afresh (no chord before it), so the same letter gets the same chords
        )
        positions = [i for i, b in enumerate(bounds) if b.phrase.section == index]
        for position, i in enumerate(positions):
            bound = bounds[i]
            previous = slots[-1].chord if slots else None
            allowed = required[i]
            if allowed == [previous] and bound.start in hit_steps and bound.place == 0 and bound.start > 0:
                allowed = None  # a hit is a change: an A's opening tonic right after the tonic's arrival gives way
            if allowed is None:
                following = required[i + 1] if i + 1 < len(bounds) else None
                avoid = {previous} | (set(following) if following and len(following) == 1 else set())
                allowed = [c for c in diatonic if c not in avoid]
            chord, state = _next_chord(
                chord_model, token, position, mode_index, since, allowed, tonic, state, generator
            )
            arrival, cadence = bound.place == bound.count - 1, bound.place >= bound.count - 2
            colour = pick_colour(
                plan.colours,
                plan.mode,
                chord.root,
                chord.quality,
                seed,
                f"{section.name}:{position}",
                cadence=cadence,
                last=i == len(bounds) - 1,
            )
            slots.append(Slot(bound.start, bound.end, index, chord, colour, cadence))
            token = chord.token
            since = 0 if arrival else since + 1
    return slots


def _required(plan: Plan, bound: SlotBounds, bounds: list[SlotBounds], tonic: Chord, seed: int) -> list[Chord] | None:
    """The chord a slot must have (a one-element list), or None where the chord LSTM chooses."""
    phrase, cadence = bound.phrase, CADENCE_CHORD[plan.mode]
    if bound.start == 0 and plan.ending == Ending.loop:
        return [tonic]  # the turnaround's target comes first, even where a one-bar phrase then cannot cadence
    last_phrase = phrase == bounds[-1].phrase
    turnaround = last_phrase and plan.ending == Ending.loop
    if bound.place == bound.count - 1:
        if phrase.role == PhraseRole.antecedent or turnaround:
            return [cadence]
        return [SUBMEDIANT[plan.mode]] if not last_phrase and _deceptive(plan, phrase, seed) else [tonic]
    if bound.place == bound.count - 2 and phrase.role == PhraseRole.consequent and not turnaround:
        return [cadence]
    if bound.place == 0 and opens_on_tonic(plan, phrase):
        return [tonic]
    return None


def opens_on_tonic(plan: Plan, phrase: Phrase) -> bool:
    """Whether a phrase starts on the tonic: each ``A`` section's first, whatever its length (a cutdown's short
    ``A`` opens as the full cue's does, so its melody can too); the cue's first when it is long enough to travel
    from the tonic and back (a shorter one, a sting, is a cadential formula: IV–V–I, ii–V–I) or opens a loop (the
    chord its turnaround leads into)."""
    if phrase.index != 0:
        return False
    if plan.sections[phrase.section].name == "A":
        return True
    return phrase.start_bar == 0 and (phrase.bars >= phrase_bars(plan) or plan.ending == Ending.loop)


def _deceptive(plan: Plan, phrase: Phrase, seed: int) -> bool:
    """Whether an inner consequent ends V → vi (seeded per section letter and phrase, so A and A' agree)."""
    if plan.mode not in SUBMEDIANT or phrase.bars < phrase_bars(plan):
        return False
    name = plan.sections[phrase.section].name
    return choice(range(100), seed, f"deceptive:{name}:{phrase.index}") < DECEPTIVE_RATE * 100


def _seed(seed: int, name: str) -> int:
    return choice(range(2**31), seed, f"chords:{name}")


@torch.no_grad()
def _next_chord(model, previous: int, position: int, mode: int, since: int, allowed, tonic, state, generator):
    """One step of the chord LSTM, sampled among ``allowed`` chords (weights renormalised, the tonic's lowered)."""
    batch = {
        "inputs": torch.tensor([[previous]]),
        "position": torch.tensor([[position % 4]]),
        "mode": torch.tensor([[mode]]),
        "phrase": torch.tensor([[min(since, PHRASE_POSITIONS - 1)]]),
    }
    logits, _, state = model(batch, state)
    if len(allowed) == 1:
        return allowed[0], state
    weights = torch.softmax(logits[0, -1], dim=-1)[[c.token for c in allowed]] + 1e-6
    weights = weights * torch.tensor([TONIC_WEIGHT if c == tonic else 1.0 for c in allowed])
    pick = int(torch.multinomial(weights / weights.sum(), 1, generator=generator))
    return allowed[pick], state
