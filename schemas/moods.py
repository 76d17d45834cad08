"""The mood vocabulary of briefs, and close-match suggestions for words that are not in it."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

#: Every mood a brief may name. The composer's mood table has one entry for each.
MOODS: tuple[str, ...] = (
    "calm",
    "happy",
    "playful",
    "uplifting",
    "triumphant",
    "epic",
    "tense",
    "suspense",
    "dark",
    "sad",
    "melancholic",
    "mysterious",
    "romantic",
    "action",
    "dreamy",
)

#: Common synonyms, mapped to the vocabulary word they mean. The resolved brief records the vocabulary word.
MOOD_ALIASES: dict[str, str] = {
    "peaceful": "calm",
    "relaxed": "calm",
    "joyful": "happy",
    "cheerful": "happy",
    "whimsical": "playful",
    "hopeful": "uplifting",
    "inspiring": "uplifting",
    "heroic": "triumphant",
    "suspenseful": "suspense",
    "ominous": "dark",
    "melancholy": "melancholic",
    "nostalgic": "melancholic",
    "love": "romantic",
    "energetic": "action",
    "ethereal": "dreamy",
    # words supervisors write (issue 18: "upbeat" was refused without a suggestion)
    "upbeat": "happy",
    "bright": "happy",
    "fun": "playful",
    "quirky": "playful",
    "serene": "calm",
    "tranquil": "calm",
    "motivational": "uplifting",
    "victorious": "triumphant",
    "grand": "epic",
    "cinematic": "epic",
    "anxious": "tense",
    "sinister": "dark",
    "gloomy": "dark",
    "somber": "sad",
    "sombre": "sad",
    "wistful": "melancholic",
    "eerie": "mysterious",
    "mystical": "mysterious",
    "tender": "romantic",
    "sentimental": "romantic",
    "driving": "action",
    "intense": "action",
    "dreamlike": "dreamy",
}

MAX_MOODS = 3


def suggest(word: str, vocabulary: Iterable[str], limit: int = 3) -> list[str]:
    """Up to ``limit`` words of ``vocabulary`` closest to ``word`` (a typo or near miss), best first."""
    return difflib.get_close_matches(word.lower(), list(vocabulary), n=limit, cutoff=0.6)


def canonical_mood(word: str) -> str | None:
    """The vocabulary word for ``word`` (case-insensitive, synonyms resolved), or ``None`` if unknown."""
    key = word.strip().lower()
    if key in MOODS:
        return key
    return MOOD_ALIASES.get(key)


def did_you_mean(word: str, vocabulary: Iterable[str]) -> str:
    """``"; did you mean 'tense'?"`` or an empty string when nothing is close."""
    close = suggest(word, vocabulary)
    if not close:
        return ""
    return "; did you mean " + " or ".join(repr(c) for c in close) + "?"


def synonyms_of(mood: str) -> tuple[str, ...]:
    """The synonyms a brief may write for the vocabulary word ``mood``, alphabetically."""
    return tuple(sorted(word for word, meant in MOOD_ALIASES.items() if meant == mood))
