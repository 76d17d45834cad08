"""The melody of a cue: motifs from the phrase VAE, continued by the melody LSTM over the planned chords.

For each lettered or named section the melody is written once and reused: same letter, same notes.

- **Motif** (the section's first 32 steps: two bars of 4/4, four of 2/4): ``MOTIF_CANDIDATES`` phrases decoded from
  random latent points of the VAE, the one kept that best fits the key, the target density and the bars' chords
  ("steered sampling"); in 3/4 and 6/8, whose bars the VAE's 32-step phrases do not fit, and in sections shorter
  than a phrase, the same choice among two-bar phrases sampled from the LSTM.
- **Variation** (``A'``): the motif's latent point moved by ``PERTURB_SCALE`` standard deviations and decoded again
  (in 3/4 and 6/8: the motif's first bar answered anew), followed by the original section's continuation.
- **Continuation**: the LSTM reads the motif and samples the rest of the section, conditioned on each bar's chord
  and on density and register from the mood and the section's intensity. Sampling is constrained: notes outside
  the mode's scale are masked (the mood's chromaticism lets a few through as passing tones), as are notes outside
  a register of an octave and a half around the mood's centre, and a "hold" after a rest; striking the note just
  played again is damped (``REPEAT_PENALTY``), and so is the note struck at the same point of the bar before
  (``COPY_PENALTY``), since the lookback inputs otherwise feed repetition back into itself.
- **Cadence**: a section's last note is a chord tone (the tonic at the end of the cue) held to the section's end.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cues.pipelines.compose.plan import choice
from cues.pipelines.compose.progression import MAJOR_LIKE, Slot
from cues.pipelines.compose.score import Note
from cues.pipelines.models.features import MODES
from cues.pipelines.music import melody_tokens
from cues.pipelines.music.melody_tokens import FIRST_NOTE, HOLD, LOW, NUM_TOKENS, REST
from cues.schemas.brief import Ending
from cues.schemas.key import MODE_INTERVALS
from cues.schemas.plan import Plan, Section

MOTIF_CANDIDATES = 8
PERTURB_SCALE = 0.6
TEMPERATURE = 1.0
REPEAT_PENALTY = 2.5  # logits subtracted from the note just played (e^-2.5 ≈ a twelfth of its odds)
COPY_PENALTY = 1.0  # logits subtracted from the note struck at this point of the previous bar
VAE_STEPS = 32
LOW_SPAN, HIGH_SPAN = 9, 12  # semitones below and above the register centre a melody note may reach


@dataclass
class MelodyModels:
    lstm: torch.nn.Module
    chord_vocabulary: list[str]
    vae: torch.nn.Module | None


@dataclass
class Context:
    """What sampling needs to know about the cue, precomputed once."""

    plan: Plan
    bar_chords: list[int]  # vocabulary index of each bar's chord
    bar_tones: list[set[int]]  # pitch classes (relative to the tonic) of each bar's chord
    scale: set[int]


def write_melody(plan: Plan, slots: list[Slot], models: MelodyModels) -> tuple[list[Note], list[list[int]]]:
    """The melody notes of the cue and the tokens of each section (for the section-similarity metric)."""
    context = _context(plan, slots, models)
    written: dict[tuple[str, int, int], list[int]] = {}
    motifs: dict[str, torch.Tensor] = {}
    bases: dict[str, list[int]] = {}  # each letter's own tokens before its cadence, for its variations
    tokens_by_section: list[list[int]] = []
    for index, section in enumerate(plan.sections):
        key = (section.label, section.bars, section.start_bar if index == len(plan.sections) - 1 else -1)
        if key not in written:
            written[key] = _section_tokens(context, index, section, models, motifs, bases)
        tokens_by_section.append(written[key])
    notes = []
    velocity = plan.velocity
    for section, tokens in zip(plan.sections, tokens_by_section, strict=True):
        offset = section.start_bar * plan.steps_per_bar
        level = round(min(127, max(30, velocity * (0.8 + 0.4 * section.intensity))))
        for start, end, relative in melody_tokens.decode(tokens, 0):  # pitches relative to the tonic
            notes.append(Note(offset + start, offset + end, relative + plan.tonic, level))
    return notes, tokens_by_section


def _context(plan: Plan, slots: list[Slot], models: MelodyModels) -> Context:
    index = {label: i for i, label in enumerate(models.chord_vocabulary)}
    bar_chords, bar_tones = [], []
    for bar in range(plan.bars):
        step = bar * plan.steps_per_bar
        slot = next(s for s in slots if s.start <= step < s.end)
        bar_chords.append(index.get(slot.chord.numeral(plan.mode), 0))
        bar_tones.append(set(slot.chord.pitch_classes(0)))
    return Context(plan, bar_chords, bar_tones, set(MODE_INTERVALS[plan.mode]))


def _section_tokens(context: Context, index: int, section: Section, models, motifs, bases) -> list[int]:
    plan = context.plan
    steps = section.bars * plan.steps_per_bar
    seed = choice(range(2**31), plan.seed, f"melody:{section.name}")
    generator = torch.Generator().manual_seed(seed)
    centre = plan.melody_centre + 4 * (section.intensity - 0.5)
    density = min(0.6, max(0.06, plan.density * (0.75 + 0.5 * section.intensity)))
    sampler = _Sampler(context, models.lstm, section.start_bar, centre, density, generator)
    # The VAE's phrases are 32 steps: two bars of 4/4, four of 2/4; other meters and shorter sections use the LSTM.
    if models.vae is not None and VAE_STEPS % plan.steps_per_bar == 0 and steps >= VAE_STEPS:
        motif = _vae_motif(context, section, models.vae, motifs, sampler, generator)
    else:
        motif = _lstm_motif(sampler, min(steps, 2 * plan.steps_per_bar), motifs.get(section.name), section.primes)
        motifs.setdefault(section.name, torch.tensor(motif))
    base = bases.get(section.name)
    if section.primes and base is not None and len(base) >= steps:
        # A variation: its own (perturbed) head, then the original's continuation, so it is recognisably A.
        tokens = motif + base[len(motif) : steps]
    else:
        tokens = sampler.continue_from(motif, steps)
    if not section.primes:
        bases.setdefault(section.name, tokens)
    last_of_cue = index == len(plan.sections) - 1
    return _cadence(tokens, context, section, last_of_cue)


def _vae_motif(context, section, vae, motifs, sampler, generator) -> list[int]:
    if section.primes and section.name in motifs:
        z = vae.encode(motifs[section.name].unsqueeze(0))
        candidates = vae.decode(z + PERTURB_SCALE * torch.randn(MOTIF_CANDIDATES, z.size(1), generator=generator))
    else:
        candidates = vae.decode(torch.randn(MOTIF_CANDIDATES, vae.config.latent, generator=generator))
    options = [sampler.fit_register(_snap(c.tolist(), context)) for c in candidates]
    best = max(options, key=lambda t: sampler.score(t))
    if not section.primes:
        motifs[section.name] = torch.tensor(best)
    return best


def _lstm_motif(sampler, steps: int, original, primes: int) -> list[int]:
    if original is not None and primes:
        keep = len(original) // 2  # a variation keeps the motif's first bar and answers it anew
        return sampler.continue_from(original[:keep].tolist(), steps)
    options = [sampler.continue_from([], steps) for _ in range(4)]
    return max(options, key=lambda t: sampler.score(t))


class _Sampler:
    """The melody LSTM rolled out step by step under the masks of the module docstring."""

    def __init__(self, context: Context, model, start_bar: int, centre: float, density: float, generator):
        self.context, self.model, self.start_bar = context, model, start_bar
        self.centre, self.density, self.generator = centre, density, generator
        plan = context.plan
        self.spb = plan.steps_per_bar
        low = max(FIRST_NOTE, round(centre - LOW_SPAN) - plan.tonic - LOW + FIRST_NOTE)
        high = min(NUM_TOKENS - 1, round(centre + HIGH_SPAN) - plan.tonic - LOW + FIRST_NOTE)
        self.low, self.high = low, high  # the register, as onset tokens
        allowed = torch.full((NUM_TOKENS,), float("-inf"))
        chromatic = torch.log(torch.tensor(max(plan.chromaticism, 1e-9)))
        for token in range(low, high + 1):
            allowed[token] = 0.0 if (token - FIRST_NOTE + LOW) % 12 in context.scale else chromatic
        allowed[REST] = allowed[HOLD] = 0.0
        self.mask = allowed
        self.feature = {
            # Lydian, phrygian and the rest are rare in the corpus (single-digit tunes): condition on the major or
            # minor they resemble, and let the scale mask give the mode its colour.
            "mode": MODES.index("major" if plan.mode in MAJOR_LIKE else "minor"),
            "density": density * self.spb / 16,  # the model's density is onsets per bar / 16
            "register": (centre - 60) / 12,
        }

    def _batch(self, tokens: list[int], step: int) -> dict[str, torch.Tensor]:
        bar = min(self.start_bar + step // self.spb, len(self.context.bar_chords) - 1)
        back = [tokens[step - n * self.spb] if step >= n * self.spb else 0 for n in (1, 2)]
        values = {
            "inputs": tokens[step - 1] if step else REST,
            "position": min(step % self.spb, self.model.config.max_steps_per_bar - 1),
            "mode": self.feature["mode"],
            "chord": self.context.bar_chords[bar],
            "back1": back[0],
            "back2": back[1],
        }
        batch = {k: torch.tensor([[v]]) for k, v in values.items()}
        batch["density"] = torch.tensor([[self.feature["density"]]], dtype=torch.float32)
        batch["register"] = torch.tensor([[self.feature["register"]]], dtype=torch.float32)
        return batch

    @torch.no_grad()
    def continue_from(self, prefix: list[int], steps: int) -> list[int]:
        """``prefix`` read by the LSTM, then sampled up to ``steps`` tokens in all."""
        tokens, state = list(prefix[:steps]), None
        for step in range(steps):
            logits, _, state = self.model(self._batch(tokens, step), state)
            if step < len(tokens):
                continue
            masked = logits[0, -1] / TEMPERATURE + self.mask
            if step == 0 or tokens[-1] == REST:
                masked[HOLD] = float("-inf")
            last_onset = next((t for t in reversed(tokens) if t >= FIRST_NOTE), None)
            if last_onset is not None:  # the lookback feeds repetition back into itself: damp striking a note again
                masked[last_onset] -= REPEAT_PENALTY
            bar_back = tokens[step - self.spb] if step >= self.spb else REST
            if bar_back >= FIRST_NOTE:  # … and copying the bar before, note for note
                masked[bar_back] -= COPY_PENALTY
            tokens.append(int(torch.multinomial(torch.softmax(masked, -1), 1, generator=self.generator)))
        return tokens

    def fit_register(self, tokens: list[int]) -> list[int]:
        """The phrase moved by whole octaves so that its mean pitch is nearest the register centre, and any note
        still outside the sampler's register folded into it by octaves."""
        onsets = [t for t in tokens if t >= FIRST_NOTE]
        if not onsets:
            return tokens
        mean = sum(onsets) / len(onsets) - FIRST_NOTE + LOW + self.context.plan.tonic
        shift = 12 * round((self.centre - mean) / 12)
        result = []
        for token in tokens:
            if token >= FIRST_NOTE:
                token += shift
                while token < self.low:
                    token += 12
                while token > self.high:
                    token -= 12
            result.append(token)
        return result

    def score(self, tokens: list[int]) -> float:
        """How well a phrase fits: in the scale, near the target density, chord tones on the beats, a melody that
        moves (distinct pitches, few immediate repeats)."""
        onsets = [(i, t) for i, t in enumerate(tokens) if t >= FIRST_NOTE]
        target = self.density * len(tokens)
        if len(onsets) < max(2, target / 3):  # a phrase of one or two long notes is not a motif
            return -1e9 + len(onsets)
        in_scale = sum((t - FIRST_NOTE + LOW) % 12 in self.context.scale for _, t in onsets) / len(onsets)
        spread = abs(len(onsets) - target) / max(target, 1)
        beats = [(i, t) for i, t in onsets if i % self.context.plan.steps_per_beat == 0]
        tones = [
            (t - FIRST_NOTE + LOW) % 12
            in self.context.bar_tones[min(self.start_bar + i // self.spb, -1 + len(self.context.bar_tones))]
            for i, t in beats
        ]
        chordal = sum(tones) / len(tones) if tones else 0.0
        # Without these two terms the best fit is one chord tone struck over and over (it is always in the scale
        # and on the chord), and the LSTM's lookback then repeats it for the rest of the section.
        pitches = [t for _, t in onsets]
        variety = min(1.0, len(set(pitches)) / min(len(pitches), 5))
        repeats = sum(a == b for a, b in zip(pitches, pitches[1:], strict=False)) / (len(pitches) - 1)
        return 3 * in_scale - spread + chordal + 2 * variety - 2 * repeats


def _snap(tokens: list[int], context: Context) -> list[int]:
    """Onsets outside the scale moved a semitone to the scale (VAE phrases are decoded without masks)."""
    result = []
    for token in tokens:
        if token >= FIRST_NOTE and (token - FIRST_NOTE + LOW) % 12 not in context.scale:
            down = token - 1 if (token - 1 - FIRST_NOTE + LOW) % 12 in context.scale else token + 1
            token = min(max(down, FIRST_NOTE), NUM_TOKENS - 1)
        result.append(token)
    return result


def _cadence(tokens: list[int], context: Context, section: Section, last_of_cue: bool) -> list[int]:
    """The section's last note: a chord tone of its last bar (the tonic at the cue's end), held to the end."""
    plan = context.plan
    onsets = [i for i, t in enumerate(tokens) if t >= FIRST_NOTE]
    if not onsets:
        return tokens
    final_bar_start = len(tokens) - plan.steps_per_bar
    last = onsets[-1] if onsets[-1] >= final_bar_start else None
    if last is None:  # no note in the final bar: place one on its downbeat
        last = max(final_bar_start, 0)
        reference = tokens[onsets[-1]]
    else:
        reference = tokens[last]
    bar = section.start_bar + last // plan.steps_per_bar
    tones = {0} if last_of_cue and plan.ending != Ending.loop else context.bar_tones[min(bar, plan.bars - 1)]
    relative = reference - FIRST_NOTE + LOW
    target = min(
        (relative + d for d in range(-6, 7) if (relative + d) % 12 in tones and LOW <= relative + d),
        key=lambda r: (abs(r - relative), r),
    )
    result = tokens[:last] + [target - LOW + FIRST_NOTE] + [HOLD] * (len(tokens) - last - 1)
    return result
