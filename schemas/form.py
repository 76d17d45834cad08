"""Musical form as briefs write it: ``"AABA"``, ``"intro-A-A'-B-outro"``, or a list of ``{section, bars}``.

Same letter means same material; each prime (``A'``, ``A''``) is a further recognisable variation of it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cues.schemas.errors import MAX_ECHO, echo

NAMED_SECTIONS = ("intro", "outro", "bridge", "build", "break", "sting")
MAX_SECTIONS = 64
MAX_SECTION_BARS = 256

ALLOWED_FORMS = (
    'letters ("AABA"), section names joined by "-" ("intro-A-A\'-B-outro"; a prime marks a variation), '
    "or a list of {section: NAME, bars: N}; names: a letter A–Z or " + ", ".join(NAMED_SECTIONS)
)

_PRIMES = str.maketrans({"’": "'", "′": "'", "`": "'"})
_SECTION_RE = re.compile(r"^([A-Za-z]+)('*)$")
_LETTERS_RE = re.compile(r"^(?:[A-Z]'*)+$")


class FormParseError(ValueError):
    """The text is not a form a brief may give."""


@dataclass(frozen=True)
class FormSection:
    """One section of a form: ``name`` is a letter ``A``–``Z`` or a named section; ``primes`` counts variations."""

    name: str
    primes: int = 0
    bars: int | None = None

    @property
    def label(self) -> str:
        """How the section is written in a form: ``A'``, ``intro``."""
        return self.name + "'" * self.primes

    @property
    def is_lettered(self) -> bool:
        return len(self.name) == 1


def parse_section_name(text: str) -> FormSection:
    """One section label (``"A'"``, ``"Intro"``) → :class:`FormSection` without bars."""
    match = _SECTION_RE.match(text.strip().translate(_PRIMES))
    if not match:
        raise FormParseError(f"{echo(text)} is not a section; allowed: {ALLOWED_FORMS}")
    name, primes = match.groups()
    if len(name) == 1:
        return FormSection(name=name.upper(), primes=len(primes))
    if name.lower() in NAMED_SECTIONS:
        return FormSection(name=name.lower(), primes=len(primes))
    raise FormParseError(f"unknown section {echo(text.strip())}; allowed: {ALLOWED_FORMS}")


def parse_form(value: object) -> tuple[FormSection, ...]:
    """A brief's ``form`` → sections in order. Raises :class:`FormParseError` saying what is allowed."""
    if isinstance(value, str):
        sections = _parse_form_text(value.translate(_PRIMES))
    elif isinstance(value, list | tuple):
        sections = tuple(_parse_form_item(i, item) for i, item in enumerate(value))
    else:
        raise FormParseError(f"a form is text or a list; allowed: {ALLOWED_FORMS}")
    if not sections:
        raise FormParseError(f"a form needs at least one section; allowed: {ALLOWED_FORMS}")
    if len(sections) > MAX_SECTIONS:
        raise FormParseError(f"at most {MAX_SECTIONS} sections; allowed: {ALLOWED_FORMS}")
    return sections


def _parse_form_text(text: str) -> tuple[FormSection, ...]:
    text = text.strip()
    if "-" not in text and _LETTERS_RE.match(text):
        return tuple(parse_section_name(m) for m in re.findall(r"[A-Z]'*", text))
    return tuple(parse_section_name(part) for part in text.split("-"))


def _parse_form_item(index: int, item: object) -> FormSection:
    if isinstance(item, dict):
        unknown = sorted(map(str, set(item) - {"section", "bars"}))  # keys may be numbers
        if unknown:
            names = ", ".join(name if len(name) <= MAX_ECHO else echo(name) for name in unknown)
            raise FormParseError(f"form[{index}]: unknown field(s) {names}; allowed: section, bars")
        if "section" not in item:
            raise FormParseError(f"form[{index}]: missing 'section'; allowed: {ALLOWED_FORMS}")
        name = item["section"]
        bars = item.get("bars")
        if bars is not None and (
            isinstance(bars, bool) or not isinstance(bars, int) or not 1 <= bars <= MAX_SECTION_BARS
        ):
            raise FormParseError(f"form[{index}].bars must be a whole number from 1 to {MAX_SECTION_BARS}")
    elif isinstance(item, str):
        name, bars = item, None
    else:
        raise FormParseError(f"form[{index}] must be a section name or {{section, bars}}; allowed: {ALLOWED_FORMS}")
    if not isinstance(name, str):
        raise FormParseError(f"form[{index}].section must be text; allowed: {ALLOWED_FORMS}")
    try:
        section = parse_section_name(name)
    except FormParseError as err:
        raise FormParseError(f"form[{index}]: {err}") from None
    return FormSection(section.name, section.primes, bars)


def format_form(sections: tuple[FormSection, ...]) -> str | list[dict]:
    """Canonical brief spelling: ``"intro-A-A'-B"``, or the list form when any section has bars."""
    if any(s.bars is not None for s in sections):
        return [{"section": s.label, **({"bars": s.bars} if s.bars is not None else {})} for s in sections]
    return "-".join(s.label for s in sections)
