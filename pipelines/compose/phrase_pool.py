"""The generator's phrases as the phrase critic sees them: slots of candidate phrases, for training and reranking.

A *slot* is one place where the generator could have put one of several phrases; its *candidates* are the phrases
it proposes there. Three kinds of slots, each candidate a 32-step phrase of melody tokens relative to the tonic:

- ``cue``: the composer's own melodies. Each of ``briefs`` varied 4/4 and 2/4 briefs is composed once per
  candidate seed; a slot is a bar line of the brief's cue (the phrase starting there), and its candidates are that
  phrase in every seed's version. Cues are composed without a critic: this is the generator's raw output. Composed
  once, with a critic in the composer (``critic`` of :func:`cue_slots`), the same slots hold what the composer
  ships: its own reranking, inside each motif and continuation choice.
- ``vae``: raw decodes of the phrase VAE from random latent points (greedy, as the composer decodes motifs).
- ``lstm``: raw two-bar phrases of the melody LSTM sampled from silence, at temperature 1, without the composer's
  masks, over a random two-chord progression with a random density and register.

Slots belong to a *group* (the cue's brief, or a block of raw slots) so that training and held-out data never share
a cue. Everything is seeded: the same models and settings give the same pool.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch

from cues.pipelines.compose.composer import ComposerModels, compose_cue
from cues.pipelines.compose.score import Note
from cues.pipelines.music import melody_tokens
from cues.pipelines.music.melody_tokens import FIRST_NOTE, HIGH, LOW
from cues.schemas.brief import Brief, ResolvedBrief
from cues.schemas.moods import MOODS

PHRASE_STEPS = 32  # two bars of 4/4, four of 2/4, at 16th-note steps
RAW_GROUP = 20  # raw slots per group: a group is held out or trained on as a whole
KEYS = ("C major", "A minor", "Bb major", "F# minor", "E dorian", "Eb major", "G mixolydian", "D minor", "A major")
METERS = ("4/4", "2/4", "4/4")  # the meters whose bars the 32-step phrases fit
MEDIA = ("film", "tv", "trailer", "game", "ad", "web")
ENDINGS = ("ring_out", "button", "cut", "fade", "loop")
LENGTHS = (20, 45, 30, 60, 90, 15, 75)
FORMS = (None, "AABA", "A-A'-B-A", None, "ABAC")


@dataclass
class CandidatePool:
    """Slots of candidate phrases: ``phrases`` (slots, candidates, steps) tokens; per slot its group and source."""

    phrases: np.ndarray
    groups: list[str]
    sources: list[str]

    def __len__(self) -> int:
        return len(self.groups)

    def subset(self, keep: np.ndarray) -> CandidatePool:
        index = np.flatnonzero(keep)
        return CandidatePool(self.phrases[index], [self.groups[i] for i in index], [self.sources[i] for i in index])

    @classmethod
    def join(cls, pools: list[CandidatePool]) -> CandidatePool:
        steps = PHRASE_STEPS
        phrases = [p.phrases for p in pools if len(p)]
        width = phrases[0].shape[1] if phrases else 1
        return cls(
            np.concatenate(phrases) if phrases else np.zeros((0, width, steps), np.int64),
            [g for p in pools for g in p.groups],
            [s for p in pools for s in p.sources],
        )


def critic_briefs(count: int) -> list[ResolvedBrief]:
    """``count`` briefs that vary mood, key and mode, medium, ending, length and form, in 4/4 and 2/4."""
    result = []
    for i in range(count):
        moods = [MOODS[i % len(MOODS)]] + ([MOODS[(i * 7 + 3) % len(MOODS)]] if i % 3 == 0 else [])
        length = LENGTHS[i % len(LENGTHS)]
        data = {
            "id": f"critic-{i:03d}",
            "medium": MEDIA[i % len(MEDIA)],
            "mood": list(dict.fromkeys(moods)),
            "length": length,
            "key": KEYS[i % len(KEYS)],
            "meter": METERS[i % len(METERS)],
            "ending": ENDINGS[i % len(ENDINGS)],
        }
        form = FORMS[i % len(FORMS)]
        if form and length >= 30:
            data["form"] = form
        result.append(Brief.model_validate(data).resolve())
    return result


def melody_phrase_tokens(notes: list[Note], tonic: int, total_steps: int) -> list[int]:
    """A melody stem (absolute pitches) as key-relative tokens over ``total_steps``; notes beyond the token range
    are moved by octaves into it (the critic reads shape, not register)."""
    grid = []
    for note in sorted(notes):
        end = min(note.end, total_steps)
        if grid and grid[-1][1] > note.start:  # keep the melody monophonic: a note ends where the next begins
            grid[-1] = (grid[-1][0], note.start, grid[-1][2])
        if end > note.start:
            pitch = note.pitch
            while pitch - tonic < LOW:
                pitch += 12
            while pitch - tonic > HIGH:
                pitch -= 12
            grid.append((note.start, end, pitch))
    return melody_tokens.encode([g for g in grid if g[1] > g[0]], tonic, total_steps)


def bar_windows(tokens: list[int], steps_per_bar: int) -> dict[int, list[int]]:
    """The ``PHRASE_STEPS``-long windows starting on each bar line that hold at least two onsets, by bar."""
    windows = {}
    for bar, start in enumerate(range(0, len(tokens) - PHRASE_STEPS + 1, steps_per_bar)):
        window = tokens[start : start + PHRASE_STEPS]
        if sum(t >= FIRST_NOTE for t in window) >= 2:
            windows[bar] = window
    return windows


def cue_slots(
    briefs: list[ResolvedBrief],
    models: ComposerModels,
    candidates: int,
    seed: int,
    critic: torch.nn.Module | None = None,
) -> CandidatePool:
    """Slots of the composer's melodies: every brief composed with ``candidates`` seeds (module docstring), by the
    composer with ``critic`` reranking its choices (none: the raw output, whatever the bundle holds)."""
    composer = dataclasses.replace(models, critic=critic)
    phrases, groups = [], []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # batch-1 model steps, as in the job's composer actors: threads cost more than they give
    try:
        for brief in briefs:
            versions = []
            for k in range(candidates):
                cue = compose_cue(brief, seed + k, None, composer)
                plan = cue.plan
                tokens = melody_phrase_tokens(cue.score.parts["lead"], plan.tonic, plan.total_steps)
                versions.append(bar_windows(tokens, plan.steps_per_bar))
            for bar in sorted(set.intersection(*(set(v) for v in versions))):
                phrases.append([v[bar] for v in versions])
                groups.append(brief.id)
    finally:
        torch.set_num_threads(threads)
    return CandidatePool(
        np.asarray(phrases, dtype=np.int64).reshape(-1, candidates, PHRASE_STEPS), groups, ["cue"] * len(groups)
    )


def vae_slots(vae: torch.nn.Module, slots: int, candidates: int, seed: int) -> CandidatePool:
    """Slots of raw VAE decodes from latent points drawn from the prior."""
    generator = torch.Generator().manual_seed(seed)
    z = vae.prior.draw(slots * candidates, generator)
    decoded = torch.cat([vae.decode(chunk) for chunk in z.split(512)]).reshape(slots, candidates, -1)
    groups = [f"vae-{i // RAW_GROUP}" for i in range(slots)]
    return CandidatePool(decoded[:, :, :PHRASE_STEPS].numpy().astype(np.int64), groups, ["vae"] * slots)


@torch.no_grad()
def lstm_slots(lstm: torch.nn.Module, chord_count: int, slots: int, candidates: int, seed: int) -> CandidatePool:
    """Slots of raw two-bar LSTM phrases in 4/4; the candidates of a slot share its chords, density and register."""
    generator = torch.Generator().manual_seed(seed)
    count, spb = slots * candidates, 16
    per_slot = {
        "mode": torch.randint(0, 2, (slots,), generator=generator),  # major or minor: most of the corpus
        "chords": torch.randint(1, max(2, min(chord_count, 12)), (slots, 2), generator=generator),
        "density": 0.15 + 0.3 * torch.rand(slots, generator=generator),  # onsets per 16th step
        "register": 0.2 + torch.rand(slots, generator=generator),  # (centre - 60) / 12, as the composer's
    }
    conditions = {k: v.repeat_interleave(candidates, dim=0) for k, v in per_slot.items()}
    tokens = torch.zeros(count, 0, dtype=torch.long)
    state, previous = None, torch.zeros(count, dtype=torch.long)
    for step in range(PHRASE_STEPS):
        back = tokens[:, step - spb] if step >= spb else torch.zeros(count, dtype=torch.long)
        batch = {
            "inputs": previous[:, None],
            "position": torch.full((count, 1), step % spb),
            "mode": conditions["mode"][:, None],
            "chord": conditions["chords"][:, step // spb][:, None],
            "density": conditions["density"][:, None],
            "register": conditions["register"][:, None],
            "back1": back[:, None],
            "back2": torch.zeros(count, 1, dtype=torch.long),
        }
        logits, _, state = lstm(batch, state)
        previous = torch.multinomial(torch.softmax(logits[:, -1], -1), 1, generator=generator).squeeze(1)
        tokens = torch.cat([tokens, previous[:, None]], dim=1)
    groups = [f"lstm-{i // RAW_GROUP}" for i in range(slots)]
    return CandidatePool(tokens.reshape(slots, candidates, PHRASE_STEPS).numpy(), groups, ["lstm"] * slots)


def generated_pool(models: ComposerModels, briefs: int, raw_slots: int, candidates: int, seed: int) -> CandidatePool:
    """Every kind of slot of the module docstring, from one model bundle."""
    pools = [cue_slots(critic_briefs(briefs), models, candidates, seed)]
    if raw_slots:
        pools.append(vae_slots(models.vae, raw_slots, candidates, seed))
        pools.append(lstm_slots(models.melody, len(models.chord_vocabulary), raw_slots, candidates, seed))
    return CandidatePool.join(pools)
