"""The melody LSTM rolled out over the cue's chords, several candidates at once, under masks and biases.

Per step (the same for every candidate):

- **register**: notes outside ``centre ± span / 2`` (the mood's ``melody_style.span``) are masked;
- **key and chord**: notes the mode does not allow at this step (``Harmony.legal``: the scale, minor's raised 7th over
  V) are masked on the beat and get ``log(chromaticism)`` off it; on a strong beat a note outside the sounding chord
  loses ``OFF_CHORD_STRONG`` logits (the fitting pass keeps only prepared ones), on another beat ``OFF_CHORD_WEAK``,
  and ``CLASH`` if it is a semitone from a chord tone; a "hold" after a rest is masked;
- **rhythm** (the mood's style): ``sustain`` raises or lowers "hold", ``syncopation`` favours onsets off the beat,
  ``dotted`` the last sixteenth of a beat (the short note of a dotted pair).

Per candidate, from the note it last struck:

- **interval**: each semitone beyond a whole tone costs ``LEAP_COST × (1 − leap)`` logits, so sad lines step and
  epic ones leap; the same note again gains ``REPEAT_GAIN × (repeat − REPEAT_NEUTRAL)`` (negative for most
  moods: the LSTM's lookback repeats on its own); going on the way the line went, by a step or a third, gains
  ``MOMENTUM``, since real melodies change direction at about a third of their notes and the LSTM at two thirds;
- **contour**: a pull (``CONTOUR_PULL`` per semitone) towards a register target that moves through the phrase as
  the style's contour says (rising, falling, arch, wave, level).

Striking the note just played is no longer damped, nor is copying the bar before: real tunes repeat, and the
phrase structure (``melody.py``) rather than a penalty keeps the line from looping.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from cues.pipelines.compose.line_fit import Harmony
from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD, LOW, NUM_TOKENS, REST, token_pitch
from cues.schemas.mood_table import Contour, MelodyStyle

TEMPERATURE = 1.0
OFF_CHORD_STRONG = 2.5  # logits off a strong beat's note outside the chord (e^-2.5 ≈ a twelfth of its odds)
OFF_CHORD_WEAK = 0.5  # … off a weak beat's: passing and neighbour tones belong there
CLASH = 2.0  # … off a beat's note a semitone from a chord tone
LEAP_COST = 2.0  # logits per semitone beyond a whole tone, at leap 0 (at 1.0 a fifth of the intervals leapt a fourth+)
REPEAT_GAIN = 5.0  # logits per unit of the style's repeat share above REPEAT_NEUTRAL
REPEAT_NEUTRAL = 0.3  # the LSTM's lookback already repeats notes about this often
LEAP_AFTER_LEAP = 1.5  # logits off a leap (a fourth or more) right after one
MOMENTUM = 3.5  # logits for going on the way the line went, by a step or a third (melodies run in scales; 1.5
# left 0.47 of the turns of 180 bench cues, 3.5 leaves 0.44 and, with lines that run, the mood heard 0.62 → 0.68)
CONTOUR_PULL = 0.12  # logits per semitone from the contour's register target
SUSTAIN_GAIN = 1.2  # logits on "hold" per unit of the style's sustain
SYNCOPATION_GAIN = 1.0
DOTTED_GAIN = 1.5


def contour_offset(contour: Contour, fraction: float) -> float:
    """Where the contour puts the line at ``fraction`` (0–1) of its phrase, in half-spans above the centre."""
    if contour == Contour.rising:
        return -0.6 + 1.2 * fraction
    if contour == Contour.falling:
        return 0.6 - 1.2 * fraction
    if contour == Contour.arch:
        return math.sin(math.pi * fraction) - 0.4
    if contour == Contour.wave:
        return 0.5 * math.sin(4 * math.pi * fraction)
    return 0.0


@dataclass
class Line:
    """Tokens of a section so far and the LSTM state after reading them."""

    tokens: list[int]
    state: tuple[torch.Tensor, torch.Tensor] | None = None


class Sampler:
    """Rolls the melody LSTM out for one section (see the module docstring)."""

    def __init__(self, model, features: dict, harmony: Harmony, chord_ids: list[int], section_start: int,
                 centre: float, density: float, style: MelodyStyle, chromaticism: float, tonic: int, steps_per_bar: int,
                 generator: torch.Generator):  # fmt: skip
        self.model, self.harmony, self.chord_ids = model, harmony, chord_ids
        self.section_start, self.centre, self.style, self.tonic = section_start, centre, style, tonic
        self.spb, self.generator = steps_per_bar, generator
        self.features = {**features, "density": density * steps_per_bar / 16, "register": (centre - 60) / 12}
        self.relative = torch.arange(NUM_TOKENS, dtype=torch.float32) - FIRST_NOTE + LOW  # onset token → relative
        self.onset = self.relative >= LOW
        self.onset[REST] = self.onset[HOLD] = False
        self.low = round(centre - style.span / 2) - tonic
        self.high = round(centre + style.span / 2) - tonic
        self.chromatic = math.log(max(chromaticism, 1e-9))
        self.cache: dict[int, torch.Tensor] = {}

    # --- the model's inputs ---------------------------------------------------------------------------------------
    def _inputs(self, rows: list[list[int]], at: list[int]) -> dict[str, torch.Tensor]:
        """Inputs (B, T) for predicting the token at section step ``at[j]`` of each row's tokens."""
        values: dict[str, list[list[float]]] = {k: [] for k in ("inputs", "position", "chord", "back1", "back2")}
        for tokens in rows:
            for key in values:
                values[key].append([])
            for step in at:
                values["inputs"][-1].append(tokens[step - 1] if step else REST)
                values["position"][-1].append(min(step % self.spb, self.model.config.max_steps_per_bar - 1))
                values["chord"][-1].append(self.chord_ids[min(self.section_start + step, len(self.chord_ids) - 1)])
                values["back1"][-1].append(tokens[step - self.spb] if step >= self.spb else REST)
                values["back2"][-1].append(tokens[step - 2 * self.spb] if step >= 2 * self.spb else REST)
        batch = {k: torch.tensor(v) for k, v in values.items()}
        shape = batch["inputs"].shape
        batch["mode"] = torch.full(shape, self.features["mode"])
        batch["density"] = torch.full(shape, self.features["density"], dtype=torch.float32)
        batch["register"] = torch.full(shape, self.features["register"], dtype=torch.float32)
        return batch

    @torch.no_grad()
    def read(self, line: Line, tokens: list[int]) -> Line:
        """``line`` followed by ``tokens``, given (not sampled): the LSTM reads them in one pass."""
        if not tokens:
            return line
        joined = line.tokens + list(tokens)
        _, _, state = self.model(self._inputs([joined], list(range(len(line.tokens), len(joined)))), line.state)
        return Line(joined, state)

    # --- sampling ---------------------------------------------------------------------------------------------------
    def _step_bias(self, cue_step: int, section_step: int) -> torch.Tensor:
        """The per-step mask and rhythm biases shared by all candidates, (V,)."""
        if cue_step in self.cache:
            return self.cache[cue_step]
        harmony, beat = self.harmony, self.harmony.steps_per_beat
        on_beat, strong = cue_step % beat == 0, harmony.is_strong(cue_step)
        pcs = (self.relative.long() % 12).tolist()
        tones, legal = harmony.at(cue_step), harmony.legal(cue_step)
        bias = torch.full((NUM_TOKENS,), float("-inf"))
        for token in range(FIRST_NOTE, NUM_TOKENS):
            relative = int(self.relative[token])
            if not self.low <= relative <= self.high:
                continue
            pc = pcs[token]
            if pc in tones:
                bias[token] = 0.0
            elif pc in legal and strong:
                bias[token] = -OFF_CHORD_STRONG
            elif pc in legal:
                bias[token] = -(OFF_CHORD_WEAK + CLASH * harmony.clashes(pc, cue_step)) if on_beat else 0.0
            elif not on_beat:
                bias[token] = self.chromatic
        within = section_step % beat
        rhythm = 0.0
        if within:
            rhythm += SYNCOPATION_GAIN * (self.style.syncopation - 0.3)
            if beat == 4:
                rhythm += DOTTED_GAIN * self.style.dotted * (1 if within == 3 else -0.5)
        bias[FIRST_NOTE:] += rhythm
        bias[REST] = 0.0
        bias[HOLD] = SUSTAIN_GAIN * self.style.sustain
        self.cache[cue_step] = bias
        return bias

    @torch.no_grad()
    def sample(self, line: Line, steps: int, forced: list[list[int | None]], phrase: tuple[int, int]) -> list[Line]:
        """One candidate continuation of ``line`` per row of ``forced`` (each ``steps`` long: a token to play, or
        None to sample), sampled together. ``phrase`` = (first section step, steps) of the phrase, for the contour."""
        count = len(forced)
        rows = [list(line.tokens) for _ in range(count)]
        state = None if line.state is None else tuple(s.expand(-1, count, -1).contiguous() for s in line.state)
        last = torch.tensor([self._last_onset(r) for r in rows], dtype=torch.float32)  # (K,) relative, nan = none
        heading = torch.zeros(count)  # (K,) the last interval that moved, semitones
        for offset in range(steps):
            at = len(rows[0])
            logits, _, state = self.model(self._inputs(rows, [at]), state)
            logits = logits[:, -1] / TEMPERATURE + self._step_bias(self.section_start + at, at)  # (K, V)
            logits = logits + self._line_bias(last, heading, (at - phrase[0]) / max(phrase[1], 1))
            for k, row in enumerate(rows):
                if row and row[-1] == REST or at == 0:
                    logits[k, HOLD] = float("-inf")
            drawn = torch.multinomial(torch.softmax(logits, -1), 1, generator=self.generator)[:, 0].tolist()
            for k, row in enumerate(rows):
                token = forced[k][offset] if forced[k][offset] is not None else drawn[k]
                row.append(token)
                if token >= FIRST_NOTE:
                    relative = token_pitch(token, 0)
                    if not torch.isnan(last[k]) and relative != last[k]:
                        heading[k] = relative - last[k]
                    last[k] = relative
        return [Line(row, tuple(s[:, k : k + 1].contiguous() for s in state)) for k, row in enumerate(rows)]

    def _line_bias(self, last: torch.Tensor, heading: torch.Tensor, fraction: float) -> torch.Tensor:
        """Interval, momentum and contour biases per candidate, (K, V)."""
        target = self.centre - self.tonic + contour_offset(self.style.contour, fraction) * self.style.span / 2
        bias = -CONTOUR_PULL * (self.relative - target).abs()  # (V,)
        moves = self.relative[None, :] - last[:, None]  # (K, V)
        interval = moves.abs()
        leap = -LEAP_COST * (1 - self.style.leap) * (interval - 2).clamp(min=0)
        leap = leap + torch.where(interval == 0, REPEAT_GAIN * (self.style.repeat - REPEAT_NEUTRAL), 0.0)
        onward = (torch.sign(moves) == torch.sign(heading)[:, None]) & (interval <= 4) & (interval > 0)
        leapt = (heading.abs() >= 5)[:, None] & (interval >= 5)  # a leap after a leap: melodies fill the gap instead
        leap = leap + MOMENTUM * onward - LEAP_AFTER_LEAP * leapt
        bias = bias[None, :] + torch.nan_to_num(leap, nan=0.0)
        bias[:, ~self.onset] = 0.0
        return bias

    @staticmethod
    def _last_onset(tokens: list[int]) -> float:
        token = next((t for t in reversed(tokens) if t >= FIRST_NOTE), None)
        return float("nan") if token is None else float(token_pitch(token, 0))
