"""Brief files → briefs: one brief, several YAML documents, or a batch with ``defaults:``.

Bad input never raises here: every brief (or the whole file, when it cannot be read) becomes a :class:`BriefEntry`
holding either the brief or the error, so a batch still delivers its valid briefs.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import ValidationError

from cues.schemas.brief import Brief
from cues.schemas.errors import BriefError, BriefFileError, Problem, RevisionUnavailable, echo
from cues.schemas.moods import did_you_mean
from cues.schemas.problems import SLUG_RE, SLUG_RULE, problems_from
from cues.schemas.revision import REVISE, RevisedCue, RevisionSource, revision_fields
from cues.schemas.yaml_safety import YamlInputError, load_documents

BATCH_FIELDS = ("version", "defaults", "briefs")
MAX_BRIEFS_PER_FILE = 1000


@dataclass(frozen=True)
class BriefEntry:
    """One brief as found in a file: ``position`` counts from 1 across the file; 0 means the file as a whole."""

    source: str
    position: int
    brief: Brief | None = None
    error: BriefError | None = None
    revision: RevisedCue | None = None  # the cue a revision (``revise:``) revises, read from the store

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def label(self) -> str:
        """The brief's id when known, else its position (``#3``)."""
        if self.brief is not None:
            return self.brief.id
        if self.error is not None and self.error.brief:
            return self.error.brief
        return f"#{self.position}" if self.position else "(file)"


def read_brief_bytes(data: bytes, source: str, revisions: RevisionSource | None = None) -> list[BriefEntry]:
    """Every brief in one file's bytes, valid or not. ``source`` names the file in messages; ``revisions`` is where
    a revision (``revise: <cue-id>``) finds the cue it revises (without it, a revision is invalid)."""
    try:
        raws = list(_raw_briefs(data))
    except (YamlInputError, BriefFileError) as err:
        problems = err.problems if isinstance(err, BriefFileError) else [Problem("", str(err))]
        return [BriefEntry(source, 0, error=BriefFileError(problems, source))]
    if not raws:
        return [BriefEntry(source, 0, error=BriefFileError([Problem("", "no briefs in this file")], source))]
    return [_entry(source, i, raw, revisions) for i, raw in enumerate(raws, start=1)]


def parse_brief(raw: object, source: str = "", label: str = "") -> Brief:
    """Validate one brief mapping; raises :class:`BriefError` listing every problem found."""
    if not isinstance(raw, dict):
        raise BriefError([Problem("", f"a brief is a mapping of fields, not {_kind(raw)}")], source, label)
    try:
        return Brief.model_validate(raw)
    except ValidationError as err:
        raise BriefError(problems_from(err, Brief), source, label) from None


def _entry(source: str, position: int, raw: object, revisions: RevisionSource | None) -> BriefEntry:
    # Messages and the batch record name a brief by its id only when that id is valid: an invalid one may be 900 KB
    # long or hold control characters, and its own problem line shows it (shortened, escaped) anyway.
    given = raw.get("id") if isinstance(raw, dict) else None
    label = given if isinstance(given, str) and SLUG_RE.match(given) else f"#{position}"
    try:
        if isinstance(raw, dict) and raw.get(REVISE) is not None:
            brief, revised = parse_revision(raw, revisions, source, label)
            return BriefEntry(source, position, brief=brief, revision=revised)
        return BriefEntry(source, position, brief=parse_brief(raw, source, label))
    except BriefError as err:
        return BriefEntry(source, position, error=err)


def parse_revision(
    raw: dict, revisions: RevisionSource | None, source: str = "", label: str = ""
) -> tuple[Brief, RevisedCue]:
    """A revision's brief (``raw`` over the revised cue's fields, with its seed) and the cue it revises; raises
    :class:`BriefError` at ``revise`` when that cue cannot be read, and at the fields as :func:`parse_brief`."""
    name = raw[REVISE]

    def problem(message: str, path: str = REVISE, value: object = name) -> BriefError:
        return BriefError([Problem(path, message, value, True)], source, label)

    if not isinstance(name, str) or not SLUG_RE.match(name):
        raise problem(f"must be the id of a delivered cue; allowed: {SLUG_RULE}")
    if revisions is None:
        raise problem("a revision is read against the store of the cue it revises, and none is given here")
    if raw.get("id") == name:
        raise problem("a revision never replaces the cue it revises: give it another id, or none", "id")
    try:
        revised = revisions.revised(name)
    except RevisionUnavailable as err:
        raise problem(str(err)) from None
    fields = revision_fields(revised, raw)
    given = raw.get("id")
    if given is None:  # named after the brief it will be, so the same revision submitted again finds its id
        draft = parse_brief({**fields, "id": name}, source, label)
        given = revisions.revision_id(revised, draft)
    named = given if isinstance(given, str) and SLUG_RE.match(given) else label
    return parse_brief({**fields, "id": given}, source, named), revised


def _raw_briefs(data: bytes) -> Iterable[object]:
    count = 0
    for document in load_documents(data):
        if document is None:  # an empty document, e.g. after a trailing "---"
            continue
        for raw in _expand_batch(document) if _is_batch(document) else [document]:
            count += 1
            if count > MAX_BRIEFS_PER_FILE:
                raise BriefFileError([Problem("", f"more than {MAX_BRIEFS_PER_FILE} briefs in one file; split it")])
            yield raw


def _is_batch(document: object) -> bool:
    return isinstance(document, dict) and "briefs" in document


def _expand_batch(document: dict) -> list[object]:
    unknown = [k for k in document if k not in BATCH_FIELDS]
    if unknown:
        name = str(unknown[0])
        raise BriefFileError(
            [
                Problem(
                    name,
                    f"unknown field {echo(name)} in a batch file{did_you_mean(name, BATCH_FIELDS)}; a batch holds "
                    f"{', '.join(BATCH_FIELDS)} (brief fields go under defaults: or into each brief)",
                )
            ]
        )
    version = document.get("version", 1)
    if type(version) is not int or version != 1:  # not True or 1.0, which equal 1
        raise BriefFileError([Problem("version", "only version 1 exists", document["version"], True)])
    briefs, defaults = document["briefs"], document.get("defaults") or {}
    if not isinstance(briefs, list) or not briefs:
        raise BriefFileError([Problem("briefs", "must be a non-empty list of briefs", _kind(briefs), True)])
    if not isinstance(defaults, dict):
        raise BriefFileError([Problem("defaults", "must be a mapping of brief fields", _kind(defaults), True)])
    return [merge_defaults(defaults, brief) if isinstance(brief, dict) else brief for brief in briefs]


def merge_defaults(defaults: dict, brief: dict, nested: bool = True) -> dict:
    """``brief`` over ``defaults``; nested mappings (``delivery``) merge field by field, the brief's value wins. A
    mapping inside those (a ``delivery.stems`` grouping) is one value: the brief's replaces the defaults' whole."""
    merged = copy.deepcopy(defaults)
    for key, value in brief.items():
        if nested and isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_defaults(merged[key], value, nested=False)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def mark_duplicate_ids(entries: list[BriefEntry]) -> list[BriefEntry]:
    """Entries where every brief after the first with an already-used id becomes an error naming the first."""
    first: dict[str, BriefEntry] = {}
    result = []
    for entry in entries:
        if entry.brief is not None and entry.brief.id in first:
            other = first[entry.brief.id]
            where = f"brief #{other.position}" + (f" of {other.source}" if other.source != entry.source else "")
            problem = Problem(
                "id",
                f"duplicate id: already used by {where}; give each brief its own id",
                entry.brief.id,
                True,
            )
            entry = BriefEntry(entry.source, entry.position, error=BriefError([problem], entry.source, entry.brief.id))
        elif entry.brief is not None:
            first[entry.brief.id] = entry
        result.append(entry)
    return result


def _kind(value: object) -> str:
    names = {dict: "a mapping", list: "a list", str: "text", type(None): "nothing"}
    return names.get(type(value), f"a {type(value).__name__}")
