"""The melody of a cue: one or two motifs developed phrase by phrase over the planned chords.

- **Motifs** (``motif_for``): half a phrase long (two bars; four of 2/4). ``A``'s is drawn from the phrase VAE
  (``MOTIF_CANDIDATES`` latent points, the best kept by the phrase choice), or in 3/4 and 6/8, whose bars the VAE's
  32-step phrases do not fit, from the melody LSTM (the choice rejects a bar looped). Its generator is seeded by the
  plan's ``motif_seed`` (the brief's seed), so a brief's variations and cutdowns share it. ``B`` (and a bridge, a
  break, a sting) has its own motif on ``A``'s opening rhythm; an intro states ``A``'s in augmentation, an outro
  likewise, a build fragments it, climbing.
- **Phrases** (``pipelines/compose/phrases.py``): each opens with the section's motif (moved by scale steps to the
  chord it opens on), a consequent restates its antecedent's opening, a later antecedent develops it (sequence,
  inversion, diminution). The rest of the phrase is chosen among candidates sampled together by the LSTM
  (``melody_sampler.py``): fresh continuations, one that sequences the motif's first bar, a consequent's echo of its
  antecedent's continuation, a variation's copy of the original section (``A'`` is ``A`` with its motif varied);
  ``phrase_choice.choose`` picks one.
- **Cadences**: an antecedent ends open on a chord tone of its last chord (2̂, 7̂ or 5̂ first), a consequent on the
  tonic if its chord holds it; the cue's last note is a tone of the tonic chord (not for a loop).
- **Fitting** (``line_fit.py``): the whole section is fitted to the chords sounding under it, passing tones fill
  thirds at the style's rate, zigzags are smoothed, chromatic approach tones are added at the mood's
  ``chromaticism`` rate; then every bar written as a repetition or sequence of an earlier one is rebuilt from that
  bar as fitted, moved whole by the scale steps that put it on its own chord (``figure_fit.py``), so moving chords
  do not undo the motif's return.

For each lettered or named section the line is written once and reused: same letter, same notes, fitted again
wherever it is played (a repeat's cadence chords may differ).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from cues.pipelines.compose import motifs as develop
from cues.pipelines.compose.arrangement import Dynamics
from cues.pipelines.compose.figure_fit import keep_figures
from cues.pipelines.compose.line_fit import (
    STRONG_BEATS,
    Harmony,
    add_chromatic,
    fill_thirds,
    fit_line,
    nearest,
    settle_strong_beats,
    smooth_zigzags,
    to_line,
    to_tokens,
)
from cues.pipelines.compose.melody_sampler import Line, Sampler
from cues.pipelines.compose.motif_fit import fit_motif
from cues.pipelines.compose.phrase_choice import Judge, choose
from cues.pipelines.compose.phrases import Phrase, PhraseRole, phrase_bars, phrase_spans
from cues.pipelines.compose.plan import choice
from cues.pipelines.compose.progression import MAJOR_LIKE, Slot
from cues.pipelines.compose.score import Note
from cues.pipelines.models.features import MODES
from cues.pipelines.music import melody_tokens
from cues.pipelines.music.melody_tokens import FIRST_NOTE, LOW, NUM_TOKENS, token_pitch
from cues.schemas.brief import Ending
from cues.schemas.key import MODE_INTERVALS, Mode
from cues.schemas.mood_table import blend
from cues.schemas.palettes import Role
from cues.schemas.plan import Plan, Section

MOTIF_CANDIDATES = 8  # VAE latent points (LSTM rollouts: half as many) the motif is chosen among
CANDIDATES = 5  # continuations sampled together per phrase, fresh and developed
VAE_STEPS = 32
LEAD_DYNAMICS = Dynamics(softest=44, loudest=1.2)  # the tune stays audible in the quietest sections
OPEN_ENDINGS = (2, 11, 10, 7)  # an antecedent's last note: 2̂, 7̂ (raised or not), 5̂, whichever its chord holds


@dataclass
class MelodyModels:
    lstm: torch.nn.Module
    chord_vocabulary: list[str]
    vae: torch.nn.Module | None
    critic: torch.nn.Module | None = None  # reranks candidate phrases (phrase_choice)


@dataclass
class Cue:
    """What writing the melody needs to know about the cue, computed once."""

    plan: Plan
    models: MelodyModels
    harmony: Harmony  # the sounding chords, step by step
    tonic_only: Harmony  # the tonic chord everywhere: what a motif is conceived over
    roots: list[int]  # chord root (relative to the tonic) at every step
    chord_ids: list[int]  # the melody LSTM's chord-vocabulary index at every step
    scale: tuple[int, ...]
    motifs: dict[str, list[int]]


def write_melody(plan: Plan, slots: list[Slot], models: MelodyModels) -> tuple[list[Note], list[list[int]]]:
    """The melody notes of the cue and the tokens of each section (for the section-similarity metric)."""
    cue = _cue(plan, slots, models)
    written: dict[tuple[str, int, int], list[int]] = {}
    bases: dict[str, list[int]] = {}  # each letter's own tokens, for its variations
    tokens_by_section: list[list[int]] = []
    for index, section in enumerate(plan.sections):
        key = (section.label, section.bars, section.start_bar if index == len(plan.sections) - 1 else -1)
        if key not in written:
            written[key] = _section_tokens(cue, index, section, bases)
        tokens_by_section.append(_finish(written[key], cue, index, section))
    notes = []
    for section, tokens in zip(plan.sections, tokens_by_section, strict=True):
        offset = section.start_bar * plan.steps_per_bar
        level = round(min(127, max(30, LEAD_DYNAMICS.at(plan.velocity, section.intensity))))
        for start, end, relative in melody_tokens.decode(tokens, 0):  # pitches relative to the tonic
            notes.append(Note(offset + start, offset + end, relative + plan.tonic, level))
    return _within_range(notes, plan, cue.harmony), tokens_by_section


def _within_range(notes: list[Note], plan: Plan, harmony: Harmony) -> list[Note]:
    """A note that development (a sequence up, an approach from above) carried past the lead instrument's range
    takes the nearest tone of its chord inside the range. Folding it by an octave, as the other parts are, would
    throw single notes of the tune an octave away: two leaps and two turns where the line had one peak."""
    lead = plan.part(Role.lead)
    if lead is None:
        return notes
    low, high = lead.low - lead.transpose, lead.high - lead.transpose
    fitted = []
    for note in notes:
        if not low <= note.pitch <= high:
            tones = harmony.at(note.start)
            inside = [p for p in range(low, high + 1) if (p - plan.tonic) % 12 in tones]
            note = Note(note.start, note.end, min(inside, key=lambda p: abs(p - note.pitch)), note.velocity)
        fitted.append(note)
    return fitted


def _cue(plan: Plan, slots: list[Slot], models: MelodyModels) -> Cue:
    vocabulary = {label: i for i, label in enumerate(models.chord_vocabulary)}
    tones, roots, ids = [], [], []
    for slot in slots:
        pcs = frozenset(slot.chord.pitch_classes(0))
        tones += [pcs] * (slot.end - slot.start)
        roots += [slot.chord.root] * (slot.end - slot.start)
        ids += [vocabulary.get(slot.chord.numeral(plan.mode), 0)] * (slot.end - slot.start)
    scale = MODE_INTERVALS[plan.mode]
    minor = plan.mode == Mode.minor
    grid = (plan.steps_per_beat, plan.steps_per_bar, STRONG_BEATS.get(plan.meter, (0,)))
    harmony = Harmony(tuple(tones), frozenset(scale), *grid, minor)
    tonic_chord = frozenset(scale[i] for i in (0, 2, 4))
    tonic_only = Harmony((tonic_chord,) * len(tones), frozenset(scale), *grid, minor)
    return Cue(plan, models, harmony, tonic_only, roots, ids, tuple(scale), {})


def _sampler(cue: Cue, section: Section | None, generator, harmony: Harmony | None = None) -> Sampler:
    plan = cue.plan
    intensity = 0.5 if section is None else section.intensity
    centre = plan.melody_centre + 4 * (intensity - 0.5)
    density = min(0.6, max(0.06, plan.density * (0.75 + 0.5 * intensity)))
    # Lydian, phrygian and the rest are rare in the corpus (single-digit tunes): condition on the major or minor they
    # resemble, and let the masks give the mode its colour.
    features = {"mode": MODES.index("major" if plan.mode in MAJOR_LIKE else "minor")}
    style = blend(plan.moods).melody_style
    start = 0 if section is None else section.start_bar * plan.steps_per_bar
    chord_ids = cue.chord_ids if harmony is None else [cue.chord_ids[0]] * len(cue.chord_ids)
    return Sampler(cue.models.lstm, features, harmony or cue.harmony, chord_ids, start, centre, density, style,
                   plan.chromaticism, plan.tonic, plan.steps_per_bar, generator)  # fmt: skip


def _judge(cue: Cue, sampler: Sampler, offset: int, harmony: Harmony | None = None) -> Judge:
    density = sampler.features["density"] * 16 / cue.plan.steps_per_bar
    return Judge(harmony or cue.harmony, offset, cue.plan.steps_per_bar, density, sampler.style, cue.models.critic)


def _unit(plan: Plan) -> int:
    """A motif's length in steps: half a phrase."""
    return phrase_bars(plan) * plan.steps_per_bar // 2


# --- motifs ------------------------------------------------------------------------------------------------------


def cue_motif(plan: Plan, slots: list[Slot], models: MelodyModels, name: str = "A") -> list[int]:
    """The motif the melody of ``plan`` develops in section ``name`` (tokens, half a phrase long)."""
    return motif_for(_cue(plan, slots, models), name)


def motif_for(cue: Cue, name: str) -> list[int]:
    """The motif of the lettered or named section ``name`` (module docstring), drawn once per cue."""
    if name in cue.motifs:
        return cue.motifs[name]
    plan = cue.plan
    if name == "A":
        motif = _draw_motif(cue, "A")
    elif name in ("intro", "outro"):
        motif = develop.augment(motif_for(cue, "A"))
    elif name == "build":
        motif = develop.fragment(motif_for(cue, "A"), 2 * plan.steps_per_beat, cue.scale)
    else:  # B, C …, bridge, break, sting: their own motif on A's opening rhythm
        motif = develop.with_rhythm(_draw_motif(cue, name), motif_for(cue, "A"), plan.steps_per_bar // 2)
    cue.motifs[name] = motif
    return motif


def _draw_motif(cue: Cue, name: str) -> list[int]:
    plan = cue.plan
    seed = plan.motif_seed if plan.motif_seed is not None else plan.seed
    generator = torch.Generator().manual_seed(choice(range(2**31), seed, f"motif:{name}"))
    sampler = _sampler(cue, None, generator, cue.tonic_only)
    unit, vae = _unit(plan), cue.models.vae
    if vae is not None and unit == VAE_STEPS:
        decoded = vae.decode(vae.prior.draw(MOTIF_CANDIDATES, generator))
        options = [_fit_register(c.tolist(), sampler) for c in decoded]
    else:
        forced = [[None] * unit for _ in range(MOTIF_CANDIDATES // 2)]
        options = [line.tokens for line in sampler.sample(Line([]), unit, forced, (0, unit))]
    # Smoothed as a section's line is (its opening too): a zigzag in the motif would come back with every statement.
    rate = 1 - sampler.style.leap / 2
    options = [smooth_zigzags(fit_motif(o, 0, cue.tonic_only), 0, cue.tonic_only, rate, False) for o in options]
    return options[choose(options, _judge(cue, sampler, 0, cue.tonic_only))]


def _fit_register(tokens: list[int], sampler: Sampler) -> list[int]:
    """The phrase moved by whole octaves so that its mean pitch is nearest the register centre, and any note still
    outside the register folded into it by octaves."""
    onsets = [token_pitch(t, 0) for t in tokens if t >= FIRST_NOTE]
    if not onsets:
        return tokens
    shift = 12 * round((sampler.centre - sampler.tonic - sum(onsets) / len(onsets)) / 12)

    def move(relative: int) -> int:
        relative += shift
        while relative < sampler.low:
            relative += 12
        while relative > sampler.high:
            relative -= 12
        return relative

    return [t if t < FIRST_NOTE else min(NUM_TOKENS - 1, move(token_pitch(t, 0)) - LOW + FIRST_NOTE) for t in tokens]


# --- sections and phrases ----------------------------------------------------------------------------------------


def _section_tokens(cue: Cue, index: int, section: Section, bases: dict[str, list[int]]) -> list[int]:
    plan = cue.plan
    spb = plan.steps_per_bar
    steps = section.bars * spb
    generator = torch.Generator().manual_seed(choice(range(2**31), plan.seed, f"melody:{section.label}"))
    sampler = _sampler(cue, section, generator)
    motif = motif_for(cue, section.name)
    if section.primes:
        motif = _vary(motif, cue, generator)
    base = bases.get(section.name) if section.primes else None
    start = section.start_bar * spb
    phrases = [p for p in phrase_spans(plan) if p.section == index]
    line, openings = Line([]), {}
    for phrase in phrases:
        first = (phrase.start_bar - section.start_bar) * spb
        length = phrase.bars * spb
        half = min(len(motif), max(1, phrase.bars // 2) * spb)
        opening = _opening(cue, phrase, motif[:half], openings, start + first, generator)[:half]
        openings[phrase.index] = (opening, cue.roots[start + first])
        line = sampler.read(line, opening)
        rest = length - half
        if rest > 0:
            forced, developed = _continuations(cue, phrase, motif, line, base, first, half, rest, spb)
            lines = sampler.sample(line, rest, forced, (first, length))
            pick = choose([x.tokens[first + half :] for x in lines], _judge(cue, sampler, start + first + half),
                          developed)  # fmt: skip
            line = lines[pick]
    if not section.primes:
        bases.setdefault(section.name, line.tokens)
    if len(line.tokens) != steps:
        raise ValueError(f"section {section.label}: {len(line.tokens)} melody steps written for {steps}")
    return line.tokens


def _finish(tokens: list[int], cue: Cue, index: int, section: Section) -> list[int]:
    """A section's line fitted to the chords where it is played (a repeated letter's cadence chords may differ),
    passing and chromatic tones added, each phrase closed."""
    plan = cue.plan
    start = section.start_bar * plan.steps_per_bar
    generator = torch.Generator().manual_seed(choice(range(2**31), plan.seed, f"chromatic:{section.label}"))
    written = tokens
    tokens = fit_line(tokens, start, cue.harmony)
    style = blend(plan.moods).melody_style
    tokens = fill_thirds(tokens, start, cue.harmony, 1 - style.leap)
    tokens = smooth_zigzags(tokens, start, cue.harmony, 1 - style.leap / 2)
    tokens = add_chromatic(tokens, start, cue.harmony, plan.chromaticism, generator)
    phrases = [p for p in phrase_spans(plan) if p.section == index]
    for phrase in phrases:
        last_of_cue = index == len(plan.sections) - 1 and phrase is phrases[-1]
        tokens = _close(tokens, cue, phrase, section, last_of_cue)
    tokens = settle_strong_beats(tokens, start, cue.harmony)
    cadences = {p.end_bar - 1 - section.start_bar for p in phrases}
    return keep_figures(written, tokens, start, cue.harmony, cue.scale, cadences)


def _vary(motif: list[int], cue: Cue, generator) -> list[int]:
    """A variation's motif: its first bar kept, the rest inverted, sequenced a step up or sounded twice as fast."""
    bar = cue.plan.steps_per_bar
    if len(motif) <= bar:
        return develop.sequence(motif, 1, cue.scale)
    way = int(torch.randint(3, (1,), generator=generator))
    rest = motif[bar:]
    varied = [develop.invert(rest, cue.scale), develop.sequence(rest, 1, cue.scale), develop.diminish(rest, cue.scale)]
    return motif[:bar] + varied[way]


def _degree_shift(cue: Cue, to_root: int, from_root: int) -> int:
    """Scale steps from one chord root to another, the nearer way (I → V is four up or three down: three down)."""
    a, _ = develop.degree(from_root % 12, cue.scale)
    b, _ = develop.degree(to_root % 12, cue.scale)
    steps = (b - a) % 7
    return steps - 7 if steps > 3 else steps


def _opening(cue: Cue, phrase: Phrase, motif: list[int], openings: dict, step: int, generator) -> list[int]:
    """The phrase's first half: the motif on the chord it opens on, restated by a consequent, developed by a later
    antecedent."""
    root = cue.roots[step]
    if phrase.index == 0:
        return develop.sequence(motif, _degree_shift(cue, root, 0), cue.scale)
    previous, previous_root = openings[phrase.index - 1]
    if phrase.role == PhraseRole.consequent:
        return develop.sequence(previous, _degree_shift(cue, root, previous_root), cue.scale)
    way = int(torch.randint(3, (1,), generator=generator))
    moved = develop.sequence(motif, _degree_shift(cue, root, 0), cue.scale)
    return [develop.sequence(moved, 1, cue.scale), develop.invert(moved, cue.scale), moved][way]


def _continuations(cue, phrase, motif, line, base, first, half, rest, spb):
    """Forced tokens per candidate row (None = sampled) and whether each row develops the material."""
    free = [None] * rest
    rows: list[tuple[list, bool]] = []
    end = first + half + rest
    if base is not None and len(base) >= end:  # a variation: the original section's continuation, its cadence anew
        rows.append((base[first + half : end - spb] + [None] * spb if rest > spb else free, True))
    if phrase.role == PhraseRole.consequent and phrase.index > 0 and rest > spb:
        answer = line.tokens[first - rest : first - spb] if first >= half + rest else []
        if len(answer) == rest - spb:  # the antecedent's continuation echoed, its cadence anew
            rows.append((answer + [None] * spb, True))
    if rest >= 2 * spb:  # the motif's first bar in sequence, a step up, then sampled
        head = develop.sequence(motif[:spb], 1, cue.scale)
        rows.append((head + [None] * (rest - spb), True))
    if rest >= 2 * spb:  # the phrase's opening bar again, then sampled
        rows.append((line.tokens[first : first + spb] + [None] * (rest - spb), True))
    while len(rows) < CANDIDATES:
        rows.append((free, False))
    return [list(r) for r, _ in rows[:CANDIDATES]], [d for _, d in rows[:CANDIDATES]]


def _close(tokens: list[int], cue: Cue, phrase: Phrase, section: Section, last_of_cue: bool) -> list[int]:
    """The phrase's last note held to its end: open on the half cadence, closed on the tonic (module docstring)."""
    plan = cue.plan
    spb = plan.steps_per_bar
    offset = section.start_bar * spb
    first, end = (phrase.start_bar - section.start_bar) * spb, (phrase.end_bar - section.start_bar) * spb
    notes = [n for n in to_line(tokens) if n[0] < end]
    inside = [n for n in notes if n[0] >= first]
    if not inside:
        return tokens
    last = inside[-1]
    if last[0] < end - spb:  # no note in the phrase's final bar: one on its downbeat
        last = [end - spb, end, last[2]]
        notes.append(last)
    step = offset + last[0]
    tones = cue.harmony.at(step)
    if last_of_cue and plan.ending != Ending.loop:
        tonic_triad = {cue.scale[0], cue.scale[2], cue.scale[4]}
        wanted = ({0} & tones) or (tonic_triad & tones) or {0}
    elif phrase.role == PhraseRole.antecedent:
        wanted = set(OPEN_ENDINGS) & tones or tones
    else:
        wanted = {0} & tones or tones
    last[2] = nearest(last[2], wanted)
    last[1] = end
    after = [n for n in to_line(tokens) if n[0] >= end]
    result = to_tokens(notes + after, len(tokens))
    return result if result[last[0]] >= FIRST_NOTE else tokens
