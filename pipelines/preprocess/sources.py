"""Where training works come from: the collections bundled in the music21 wheel, and users' own catalogues.

A *work* is one tune or one chorale. ABC files hold many tunes; they are split here, on the driver, so that every
work is a separate unit of parallel work with its own stable ``source_id`` and content hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cues.pipelines.store import open_store
from cues.schemas.errors import ScoringError

ABC_SUFFIXES = (".abc",)
MUSICXML_SUFFIXES = (".mxl", ".musicxml", ".xml")
MIDI_SUFFIXES = (".mid", ".midi")
_TUNE_START = re.compile(r"^X:\s*\S*", re.MULTILINE)
_FIELD_LINE = re.compile(r"^[A-Za-z]:")


class SourceError(ScoringError):
    """A corpus source does not exist or cannot be read."""


@dataclass(frozen=True)
class Collection:
    """A collection bundled with music21, with what its files say about its licence."""

    name: str  # the name users pass to --source
    corpus_dir: str  # folder inside music21/corpus
    title: str
    format: str  # "abc" or "musicxml"
    licence: str  # what the files state (or that they state nothing)
    commercial_use: bool  # False when the files restrict use to non-commercial purposes


COLLECTIONS: dict[str, Collection] = {
    c.name: c
    for c in (
        Collection(
            "essen",
            "essenFolksong",
            "Essen Folksong Collection (EsAC), ABC by Seymour Schlien",
            "abc",
            "license.txt: legal status unclear; permission given for 'non-commercial distribution and use of these "
            "files in music21' (Prof. Ewa Dahlig-Turek)",
            False,
        ),
        Collection(
            "oneills",
            "oneills1850",
            "O'Neill's Music of Ireland (1850 edition collection), transcribed by Norbert Paap",
            "abc",
            "no licence statement in the files; transcriptions of an 1850s source book",
            True,
        ),
        Collection(
            "ryans",
            "ryansMammoth",
            "Ryan's Mammoth Collection (1883)",
            "abc",
            "no licence statement in the files; transcriptions of an 1883 source book",
            True,
        ),
        Collection(
            "airds",
            "airdsAirs",
            "Aird's Selection of Scotch, English, Irish and Foreign Airs (1778–1803)",
            "abc",
            "no licence statement in the files; transcriptions of a 1778–1803 source book",
            True,
        ),
        Collection(
            "miscfolk",
            "miscFolk",
            "Miscellaneous folk: American fife music, Northumbrian minstrelsy",
            "abc",
            "no licence statement in the files (the fife file says it was tidied from a site that has disappeared)",
            True,
        ),
        Collection(
            "bach",
            "bach",
            "J. S. Bach, four-part chorales (MusicXML)",
            "musicxml",
            "no licence statement in the files; Bach's chorales are in the public domain, the encodings ship "
            "with music21",
            True,
        ),
    )
}
DEFAULT_SOURCES = tuple(COLLECTIONS)


@dataclass(frozen=True)
class Work:
    """One unit of preprocessing: ``payload`` is the work's own bytes (one tune's ABC text, a MusicXML or MIDI
    file). ``source_id`` is stable across runs and machines; ``sha256`` is of the payload."""

    source_id: str
    collection: str
    format: str
    payload: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.payload).hexdigest()


def music21_corpus_dir() -> Path:
    import music21.corpus

    return Path(music21.corpus.__file__).parent


def split_abc(text: str) -> list[str]:
    """The tunes of an ABC file, each starting at its ``X:`` line, with the file header's fields before it.

    A file header may set fields for all tunes (``L:``, ``M:``, ``K:`` …); comments and free text before the first
    tune are dropped.
    """
    starts = [m.start() for m in _TUNE_START.finditer(text)]
    if not starts:
        return []
    header = "".join(line + "\n" for line in text[: starts[0]].splitlines() if _FIELD_LINE.match(line))
    bounds = [*starts, len(text)]
    return [header + text[a:b].strip() + "\n" for a, b in zip(bounds, bounds[1:], strict=False)]


def collection_works(collection: Collection, corpus_dir: Path | None = None) -> Iterator[Work]:
    """Every work of a bundled collection, in a stable order."""
    root = (corpus_dir or music21_corpus_dir()) / collection.corpus_dir
    if not root.is_dir():
        raise SourceError(f"music21 corpus folder {root} is missing; reinstall music21")
    suffixes = ABC_SUFFIXES if collection.format == "abc" else (".mxl",)
    for path in sorted(p for p in root.iterdir() if p.suffix.lower() in suffixes):
        rel = f"music21:{collection.corpus_dir}/{path.name}"
        if collection.format == "abc":
            for index, tune in enumerate(split_abc(path.read_text(encoding="utf-8", errors="replace")), start=1):
                yield Work(f"{rel}#{index}", collection.name, "abc", tune.encode("utf-8"))
        else:
            yield Work(rel, collection.name, "musicxml", path.read_bytes())


def format_of(name: str) -> str | None:
    """``abc``, ``musicxml`` or ``midi`` from a file name, or ``None`` for files that are not scores."""
    suffix = Path(name).suffix.lower()
    if suffix in ABC_SUFFIXES:
        return "abc"
    if suffix in MUSICXML_SUFFIXES:
        return "musicxml"
    if suffix in MIDI_SUFFIXES:
        return "midi"
    return None


def catalogue_works(source: str) -> Iterator[Work]:
    """Every score in a user catalogue: a folder (recursive) or an ``s3://`` prefix of .mid/.mxl/.musicxml/.abc."""
    if source.startswith("s3://"):
        store = open_store(source)
        for key in store.list():
            fmt = format_of(key)
            if fmt:
                yield from _file_works(f"{store.uri}/{key}", store.uri, fmt, store.get_bytes(key))
        return
    root = Path(source)
    if not root.is_dir():
        raise SourceError(f"catalogue {source!r} is not a folder or an s3:// prefix")
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        fmt = format_of(path.name)
        if fmt:
            rel = path.relative_to(root).as_posix()
            yield from _file_works(f"{root.resolve().as_uri()}/{rel}", f"folder:{root.name}", fmt, path.read_bytes())


def _file_works(source_id: str, name: str, fmt: str, data: bytes) -> Iterator[Work]:
    if fmt == "abc":
        tunes = split_abc(data.decode("utf-8", errors="replace"))
        if not tunes:  # not ABC at all: still a work, so its failure is reported rather than silently skipped
            yield Work(source_id, name, "abc", data)
        for index, tune in enumerate(tunes, start=1):
            yield Work(f"{source_id}#{index}", name, "abc", tune.encode("utf-8"))
    else:
        yield Work(source_id, name, fmt, data)


def resolve_sources(names: tuple[str, ...], include_noncommercial: bool = True) -> Iterator[Work]:
    """Works of every source: a bundled collection name, a folder or an ``s3://`` prefix."""
    for name in names:
        if name in COLLECTIONS:
            collection = COLLECTIONS[name]
            if not include_noncommercial and not collection.commercial_use:
                continue
            yield from collection_works(collection)
        elif name.startswith("s3://") or Path(name).exists():
            yield from catalogue_works(name)
        else:
            raise SourceError(
                f"unknown source {name!r}; use a collection ({', '.join(COLLECTIONS)}), a folder or an s3:// prefix"
            )
