"""From a resolved brief to a :class:`Plan`: key, meter, tempo map, sections with bar counts, hits, parts.

Pure and deterministic: the same brief, seed and cutdown give the same plan. Choices the brief leaves open (the key,
the mode) are made from the mood table by hashing the seed with the choice's name, so one choice does not shift
another. What the plan had to adapt (a tempo moved to fit whole bars, a hit that cannot be met) is written in
``Plan.notes`` rather than done silently.

Decisions where the brief contract is silent:

- A cue is a whole number of bars for every ending; for ``ring_out`` the final chord starts on the last bar's
  downbeat, lasts to ``length``, and rings on after it.
- Default forms depend on the medium and the number of bars (a 6-second sting is one section; see ``DEFAULT_FORMS``).
- A cutdown keeps the full cue's tempo (within 8 %, to fit whole bars), takes the default form for its length with
  letters mapped onto the full cue's letters (so ``A`` is the same material), and carries no hits: hits belong to
  the full-length picture edit.
- The motifs come from the brief's own seed (``motif_seed``), not the cue's: variations (seed + variation − 1) and
  cutdowns develop the same motifs differently.
- A list of intensities that does not match the number of sections (possible only when the form is the default) is
  stretched over the sections.
- The ensemble is one of the first mood's palette (``schemas/palettes.yaml``): the brief's seed picks one
  (``mood_ensemble``: briefs of successive seeds walk through every pairing of the mood's grooves and ensembles,
  where a hash would leave two of four briefs of a mood on one ensemble half the time), and its variations take the
  next ones in turn (variation 2 never plays variation 1's ensemble); a cutdown keeps its full cue's; the parts,
  their stems and the roles each section's intensity calls for are ``ensemble.py``'s.
- Film, trailer and ad cues of 30 s or more whose brief does not pin ``intensity`` get an arc (``_arc``: start
  low, build to the climax at the last main section or at the last hit, breathe out after it), written in the
  notes; other media, shorter cues and loops (a bed that repeats keeps its level: an arc would fall from its climax
  to its quiet opening at every pass) keep the gentle shape around the mood's intensity. A cutdown takes the
  intensities of its full cue's sections of the same label (or name), so an edit keeps the parent's shape.
- A revision (``revised``, a brief with ``revise:``) keeps the revised cue's tempo, form, bars and intensities where
  they fit, re-fitted to a new length (``revision.py``), and its plan says what changed (``Plan.revision``).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field

from cues.pipelines.compose import ensemble, revision
from cues.pipelines.compose.tempo_map import (
    Grid,
    HitPlacement,
    PlanError,
    TempoBand,
    solve_tempo_map,
)
from cues.schemas.brief import Brief, Ending, Medium, ResolvedBrief
from cues.schemas.effects import effects_table
from cues.schemas.form import FormSection, parse_form
from cues.schemas.grooves import groove_table
from cues.schemas.key import Key
from cues.schemas.mood_table import Groove, MoodProfile, blend
from cues.schemas.palettes import Ensemble, palettes
from cues.schemas.plan import Hit, Plan, Section, TempoChange
from cues.schemas.revision import RevisedCue
from cues.schemas.timing import MAX_TEMPO, Length, parse_length

EXPLICIT_TEMPO_SLACK = 1.08  # a brief's own tempo may move this much (×, ÷) to meet hits and whole bars
MOOD_TEMPO_SLACK = 1.10  # a mood's tempo range is widened this much for the same reasons
SECTION_WEIGHT = {"intro": 0.5, "outro": 0.5, "break": 0.5, "sting": 0.5, "build": 1.0, "bridge": 1.0}
SECTION_INTENSITY = {"intro": 0.7, "outro": 0.7, "break": 0.6, "build": 0.9, "bridge": 1.0, "sting": 1.0}
ARC_MEDIA = (Medium.film, Medium.trailer, Medium.ad)  # cues that build, from ARC_FROM_S seconds (issue 16)
ARC_FROM_S = 30.0
ARC_LIFT, ARC_PEAK_LEAST = 0.2, 0.6  # the climax: the mood's intensity + 0.2, at least 0.6
ARC_FLOOR = 0.1  # every arc starts here, whatever the mood: the loud moods, climbing highest, build most
OUTRO_SHARE = 0.35  # after the climax the music breathes out to this share of the arc's span above its start
FRAME_SECTIONS = frozenset({"intro", "outro", "break", "sting"})
#: (fewest bars, form) per medium, most bars first: the first row whose bar count fits is the default form.
DEFAULT_FORMS: dict[str, tuple[tuple[int, str], ...]] = {
    "film": ((32, "intro-A-B-A'-outro"), (16, "A-B-A'"), (8, "A-A'"), (1, "A")),
    "tv": ((32, "intro-A-B-A'-outro"), (16, "A-B-A'"), (8, "A-A'"), (1, "A")),
    "web": ((32, "intro-A-B-A'-outro"), (16, "A-B-A'"), (8, "A-A'"), (1, "A")),
    "ad": ((24, "intro-A-B-A'"), (12, "A-B-A'"), (6, "A-A'"), (1, "A")),
    "trailer": ((32, "intro-A-build-B-outro"), (16, "A-build-B"), (8, "A-B"), (1, "A")),
    "game": ((32, "A-B-A'-C"), (16, "A-B"), (8, "A-A'"), (1, "A")),
}


def choice(options, seed: int, name: str):
    """A deterministic pick from ``options`` for the decision ``name``, independent of every other decision."""
    digest = hashlib.sha256(f"{seed}:{name}".encode()).digest()
    return options[int.from_bytes(digest[:8], "big") % len(options)]


def plan_cue(
    brief: ResolvedBrief, seed: int, cutdown: float | str | None = None, revised: RevisedCue | None = None
) -> Plan:
    """The plan of one cue of a resolved brief: its full-length plan, or a cutdown's planned from the full one;
    ``revised`` is the delivered cue a revision brief revises."""
    full = make_plan(brief, seed, revised=revised)
    return full if cutdown is None else make_plan(brief, seed, parse_length(cutdown), full)


@dataclass
class PlanNotes:
    """The plan's notes in words, in order (``all``), and those that depart from what the brief asked
    (``warnings``: a given tempo moved, a hit missed, intensities stretched), which ``--strict`` refuses."""

    all: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def info(self, text: str) -> None:
        self.all.append(text)

    def warn(self, text: str) -> None:
        self.all.append(text)
        self.warnings.append(text)


def make_plan(
    brief: ResolvedBrief,
    seed: int,
    cutdown: Length | None = None,
    full_plan: Plan | None = None,
    revised: RevisedCue | None = None,
) -> Plan:
    """The plan of one cue of a resolved brief (``brief.resolve()``).

    For a cutdown, ``full_plan`` is the full-length cue's plan (made first), whose tempo and letters it keeps. For a
    revision, ``revised`` is the cue it revises, whose tempo, form, bars and intensities it keeps where they fit
    (``revision.py``). Raises :class:`PlanError` when the brief cannot be planned as asked.
    """
    revised = None if cutdown else revised  # a cutdown keeps from its full cue, which kept from the revised one
    profile = blend(brief.mood)
    palette = palettes().moods[brief.mood[0]]
    # the brief's ensemble by its own seed; its variations (seed + variation - 1) take the next ones in turn
    first = palette.ensembles.index(mood_ensemble(palette.ensembles, profile, brief.seed))
    chosen = palette.ensembles[(first + seed - brief.seed) % len(palette.ensembles)]
    effects = effects_table().of_mood(brief.mood[0])
    programs, groove = ensemble.programs_of(brief, profile, chosen, mood_groove(profile, seed), effects)
    parts = ensemble.parts_of(
        programs, chosen.texture, profile.melody_centre, profile.melody_style.span, effects.impact
    )
    stems, absent = ensemble.stems_of(parts)
    notes = PlanNotes()
    grid = Grid.of(brief.meter)
    key = _key(brief, profile, seed)
    length = cutdown or brief.length
    band, preferred = _tempo_band(brief, profile, full_plan, revised)
    length_s = length.duration(brief.meter, preferred)
    form = None if cutdown else brief.form
    keep_form = revised is not None and form is None
    total_steps = None
    if length.bars is not None:
        total_steps = length.bars * grid.steps_per_bar
    elif form and all(s.bars is not None for s in form):
        total_steps = sum(s.bars for s in form) * grid.steps_per_bar
    elif keep_form and (kept_bars := revision.kept_bars(brief, revised, length_s)) is not None:
        total_steps = kept_bars * grid.steps_per_bar
    hits = () if cutdown else brief.hits
    if cutdown and brief.hits:
        notes.info("the cutdown carries no hits: they belong to the full-length edit")
    min_bars = sum(s.bars or 1 for s in form) if form else 1
    try:
        tempo_map, placements = solve_tempo_map(grid, length_s, hits, band, total_steps, min_bars * grid.steps_per_bar)
    except PlanError as err:
        if not form or total_steps is not None:
            raise
        most = math.floor(length_s * MAX_TEMPO / 60 / brief.meter.beats_per_bar)
        raise PlanError(
            f"the form {'-'.join(s.label for s in form)} needs at least {min_bars} bars, but {length_s:g} s holds "
            f"at most {most} bars of {brief.meter.value} (at {MAX_TEMPO:g} bpm); give a longer length, fewer "
            "sections, or leave the form out"
        ) from err
    bars = tempo_map.total_steps // grid.steps_per_bar
    low, high = tempo_map.bpm_range()
    if brief.tempo is not None and (abs(low - brief.tempo) > 0.05 or abs(high - brief.tempo) > 0.05):
        notes.warn(f"tempo {brief.tempo:g} bpm became {_tempo_text(low, high)} to fit whole bars and the hits")
    elif not (band.low <= low and high <= band.high):
        notes.info(f"tempo {_tempo_text(low, high)} is outside the mood's range, to fit the length")
    for placement in placements:
        if not placement.achievable:
            notes.warn(_hit_note(placement))
    refit: list[str] = []
    if keep_form:
        form, refit = revision.refitted_form(revised.plan, bars)
    elif form is None:
        form = _default_form(brief.medium, bars, full_plan)
    hit_bars = [p.step // grid.steps_per_bar for p in placements]
    sections = tuple(
        s.model_copy(update={"roles": ensemble.section_roles(s.intensity, palette.enters, parts, groove)})
        for s in _sections(form, bars, brief, profile, tempo_map, grid, notes, hit_bars, full_plan or _plan_of(revised))
    )
    plan = Plan(
        brief_id=brief.id,
        seed=seed,
        motif_seed=brief.seed,
        cutdown=cutdown.to_brief() if cutdown else None,
        medium=brief.medium,
        moods=tuple(brief.mood),
        key=str(key),
        tonic=key.pitch_class,
        mode=key.mode,
        meter=brief.meter.value,
        steps_per_bar=grid.steps_per_bar,
        steps_per_beat=grid.steps_per_beat,
        length_s=tempo_map.duration_us / 1e6,
        bars=bars,
        tempo_bpm=round(bars * brief.meter.beats_per_bar * 60e6 / tempo_map.duration_us, 4),
        tempo_map=tuple(
            TempoChange(
                step=s.start_step,
                bar=round(1 + s.start_step / grid.steps_per_bar, 4),
                start_s=s.start_us / 1e6,
                bpm=round(s.bpm, 4),
            )
            for s in tempo_map.segments
        ),
        tempo_map_us=tuple((s.start_step, s.steps, s.start_us, s.duration_us) for s in tempo_map.segments),
        ending=brief.ending,
        sections=sections,
        hits=tuple(Hit(**p.as_dict(grid)) for p in placements),
        stems=stems,
        absent_stems=absent,
        parts=parts,
        ensemble=None if brief.instruments else chosen.name,
        groove=groove,
        bass_line=groove_table()[groove].bass,
        melody_centre=profile.melody_centre,
        density=profile.density,
        harmonic_rhythm=profile.harmonic_rhythm,
        velocity=profile.velocity,
        chromaticism=profile.chromaticism,
        colours=profile.colours,
        notes=tuple(notes.all),
        warnings=tuple(notes.warnings),
    )
    if revised is None:
        return plan
    return plan.model_copy(update={"revision": revision.revision_record(plan, brief, revised, refit)})


def _plan_of(revised: RevisedCue | None) -> Plan | None:
    return revised.plan if revised is not None else None


def _key(brief: Brief, profile: MoodProfile, seed: int) -> Key:
    if brief.key is not None:
        return brief.key
    return Key(tonic=choice(profile.tonics, seed, "tonic"), mode=choice(profile.modes, seed, "mode"))


def _tempo_band(
    brief: ResolvedBrief, profile: MoodProfile, full_plan: Plan | None, revised: RevisedCue | None
) -> tuple[TempoBand, float]:
    kept = revision.kept_tempo(brief, revised) if revised is not None else None
    if full_plan is not None or kept is not None:
        t = full_plan.tempo_bpm if full_plan is not None else kept
        return TempoBand.around(t, t, t, EXPLICIT_TEMPO_SLACK), t
    if brief.tempo is not None:
        t = brief.tempo
        return TempoBand.around(t, t, t, EXPLICIT_TEMPO_SLACK), t
    r = profile.tempo
    return TempoBand.around(r.min, r.max, r.preferred, MOOD_TEMPO_SLACK), r.preferred


def _tempo_text(low: float, high: float) -> str:
    return f"{low:.2f} bpm" if abs(high - low) < 0.005 else f"{low:.2f}–{high:.2f} bpm"


def _hit_note(p: HitPlacement) -> str:
    return (
        f"hit at {p.requested_s:g} s cannot be met within 10 ms at a tempo from 40 to 220 bpm: "
        f"nearest step is {p.achieved_s:.3f} s ({p.error_ms:.1f} ms away)"
    )


def _default_form(medium: Medium, bars: int, full_plan: Plan | None) -> tuple[FormSection, ...]:
    text = next(form for fewest, form in DEFAULT_FORMS[medium.value] if bars >= fewest)
    sections = parse_form(text)
    while len(sections) > bars:  # a form never has more sections than bars
        sections = sections[:-1]
    if full_plan is None:
        return sections
    # A cutdown's letters are the full cue's letters, in order of first appearance, so A is the same material.
    letters = list(dict.fromkeys(s.name for s in full_plan.sections if len(s.name) == 1))
    mapping = {chr(ord("A") + i): letter for i, letter in enumerate(letters)}
    return tuple(FormSection(mapping.get(s.name, s.name), s.primes) for s in sections)


def allocate_bars(form: tuple[FormSection, ...], bars: int) -> list[int]:
    """Bars per section adding up to ``bars``: explicit bars kept, the rest shared by weight (intro and outro half
    as long as a lettered section) in units of 4 bars when they divide evenly, else 2, else 1."""
    fixed = sum(s.bars for s in form if s.bars is not None)
    free = [i for i, s in enumerate(form) if s.bars is None]
    rest = bars - fixed
    if rest < len(free) or (not free and rest != 0):
        raise PlanError(
            f"the form has {len(form)} sections ({fixed} bars given) but the cue holds {bars} bars; "
            "give a longer length, fewer sections, or leave the form out"
        )
    result = [s.bars or 0 for s in form]
    if not free:
        return result
    weights = [SECTION_WEIGHT.get(form[i].name, 1.0) for i in free]
    unit = next(u for u in (4, 2, 1) if rest % u == 0 and rest // u >= len(free))
    units = rest // unit
    ideal = [units * w / sum(weights) for w in weights]
    shares = [max(1, int(x)) for x in ideal]
    while sum(shares) > units:  # the minimum of one unit each overshot: take from the largest
        shares[shares.index(max(shares))] -= 1
    order = sorted(range(len(free)), key=lambda k: (-(ideal[k] - int(ideal[k])), k))
    for k in order[: units - sum(shares)]:
        shares[k] += 1
    for i, share in zip(free, shares, strict=True):
        result[i] = share * unit
    return result


def _sections(form, bars, brief, profile, tempo_map, grid, notes, hit_bars, full_plan) -> tuple[Section, ...]:
    counts = allocate_bars(form, bars)
    length_s = tempo_map.seconds(bars * grid.steps_per_bar)
    intensities = _intensities(form, brief, profile, notes, counts, length_s, hit_bars, full_plan)
    sections, start = [], 0
    for section, count, intensity in zip(form, counts, intensities, strict=True):
        sections.append(
            Section(
                label=section.label,
                name=section.name,
                primes=section.primes,
                start_bar=start,
                bars=count,
                start_s=round(tempo_map.seconds(start * grid.steps_per_bar), 6),
                end_s=round(tempo_map.seconds((start + count) * grid.steps_per_bar), 6),
                intensity=round(intensity, 4),
            )
        )
        start += count
    return tuple(sections)


def _intensities(
    form, brief: Brief, profile: MoodProfile, notes: PlanNotes, counts, length_s, hit_bars, full_plan
) -> list[float]:
    """Each section's intensity: the brief's when it pins them; a cutdown's from its full cue's sections of the
    same label; an arc for film, trailer and ad cues of ``ARC_FROM_S`` or more that do not loop; else a gentle shape
    around the mood's intensity (contrasting sections lift, the last lettered section a little more, intro and outro
    lower). ``full_plan`` is a cutdown's full cue, or the cue a revision revises: its sections' intensities are kept."""
    given = brief.intensity
    if isinstance(given, int | float):
        return [float(given)] * len(form)
    if given:
        if len(given) != len(form):
            notes.warn(f"{len(given)} intensities stretched over {len(form)} sections")
            return [given[min(len(given) - 1, i * len(given) // len(form))] for i in range(len(form))]
        return [float(v) for v in given]
    gentle = _gentle_intensities(form, profile)
    if full_plan is not None:
        by_label = {s.label: s.intensity for s in full_plan.sections}
        by_name = {s.name: s.intensity for s in reversed(full_plan.sections)}  # the first section of the name
        return [by_label.get(s.label, by_name.get(s.name, own)) for s, own in zip(form, gentle, strict=True)]
    # a loop repeats its end into its start: an arc would fall from its climax to the quiet opening at every pass
    if brief.medium not in ARC_MEDIA or length_s < ARC_FROM_S - 1e-6 or len(form) < 2 or brief.ending == Ending.loop:
        return gentle
    result = _arc(form, counts, profile.intensity, hit_bars)
    peak = max(range(len(result)), key=lambda i: result[i])
    notes.info(
        f"intensity arc for a {brief.medium.value} cue of {length_s:.0f} s: "
        + ", ".join(f"{s.label} {v:.2f}" for s, v in zip(form, result, strict=True))
        + f" (climax: {form[peak].label})"
    )
    return result


def _gentle_intensities(form, profile: MoodProfile) -> list[float]:
    base = profile.intensity
    lettered = [i for i, s in enumerate(form) if len(s.name) == 1]
    climax = lettered[-1] if len(lettered) > 1 else None
    result = []
    for i, section in enumerate(form):
        factor = SECTION_INTENSITY.get(section.name, 1.0)
        if section.name != "A" and len(section.name) == 1:
            factor = 1.1  # contrasting sections lift
        if i == climax:
            factor = 1.2
        result.append(min(1.0, max(0.0, base * factor)))
    return result


def _arc(form, counts, base: float, hit_bars) -> list[float]:
    """Low at the start, building section by section to a climax — the section of the last hit the plan placed
    (unless that is the first), else the last main section — and breathing out after it. The climax reaches
    ``max(base + ARC_LIFT, ARC_PEAK_LEAST)`` and the start is ``ARC_FLOOR``, so the span is at least 0.5 and widest
    for the loud moods (epic 0.1 to 1.0: heroic cues build most)."""
    peak = min(1.0, max(base + ARC_LIFT, ARC_PEAK_LEAST))
    floor = ARC_FLOOR
    starts = [sum(counts[:i]) for i in range(len(form))]
    main = [i for i, s in enumerate(form) if s.name not in FRAME_SECTIONS] or list(range(len(form)))
    climax = main[-1] if main[-1] > 0 else len(form) - 1
    if hit_bars:
        hit_section = max(i for i, start in enumerate(starts) if start <= max(hit_bars))
        climax = hit_section if hit_section > 0 else climax
    after = len(form) - 1 - climax
    result = []
    for i in range(len(form)):
        if i <= climax:
            result.append(floor + (peak - floor) * i / climax)
        else:  # down to OUTRO_SHARE of the span at the last section
            result.append(peak - (peak - floor) * (1 - OUTRO_SHARE) * (i - climax) / after)
    return result


def mood_ensemble(ensembles: tuple[Ensemble, ...], profile: MoodProfile, seed: int) -> Ensemble:
    """The ensemble of a brief's seed, in step with ``mood_groove``: seed s plays ensemble (s + s // G) mod E of E,
    groove s mod G of G, so any G × E successive seeds play every pairing once (when G + 1 and E are coprime, as
    for 4 grooves and 3 ensembles) and successive seeds never repeat an ensemble."""
    return ensembles[(seed + seed // len(profile.grooves)) % len(ensembles)]


def mood_groove(profile: MoodProfile, seed: int) -> Groove:
    """The mood's grooves taken in turn by seed: successive variations (seed + variation − 1) never repeat a groove
    before each has played, and a cutdown (same seed) keeps its full cue's groove."""
    return profile.grooves[seed % len(profile.grooves)]
