"""Where briefs come from: files, folders, globs and ``s3://`` prefixes, read into :class:`BriefEntry` lists.

A source that cannot be read (missing file, unreachable bucket, over 1 MiB) becomes an error entry naming it, so one
bad source never hides the briefs of the others. Under an ``s3://`` prefix the same holds for each object: one whose
key no store may use (``briefs/../evil.yaml``, ``briefs/sub//x.yaml``) is reported and skipped, the rest are read.
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from importlib import resources
from pathlib import Path

from cues.pipelines.store import check_key, open_store
from cues.schemas.brief_file import BriefEntry, mark_duplicate_ids, read_brief_bytes
from cues.schemas.errors import BriefFileError, Problem, StoreError, StoreURIError
from cues.schemas.revision import RevisionSource
from cues.schemas.yaml_safety import MAX_FILE_BYTES

BRIEF_SUFFIXES = (".yaml", ".yml")
EXAMPLES_DIR = Path(str(resources.files("cues.schemas") / "examples"))


def read_sources(sources: Iterable[str], revisions: RevisionSource | None = None) -> list[BriefEntry]:
    """Every brief of every source, in order, with duplicate ids across all of them marked as errors.
    ``revisions`` is where revisions (``revise: <cue-id>``) find the cues they revise (``revision_source.py``)."""
    entries: list[BriefEntry] = []
    for source in sources:
        entries.extend(read_source(source, revisions))
    return mark_duplicate_ids(entries)


def read_source(source: str, revisions: RevisionSource | None = None) -> list[BriefEntry]:
    """The briefs of one source: a file, a folder (``*.yaml``/``*.yml`` inside, recursively, sorted), a glob, or
    an ``s3://bucket/prefix/`` (or one ``s3://…/file.yaml``)."""
    if source.startswith("s3://"):
        return _read_s3(source, revisions)
    if any(ch in source for ch in "*?["):
        paths = sorted(Path(p) for p in glob.glob(source, recursive=True) if _is_brief_file(Path(p)))
        if not paths:
            return [_source_error(source, "no brief files match this pattern")]
        return [entry for path in paths for entry in _read_path(path, revisions)]
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if _is_brief_file(p) and not _hidden(p, path))
        if not files:
            return [_source_error(source, "no *.yaml or *.yml files in this folder")]
        return [entry for file in files for entry in _read_path(file, revisions)]
    return _read_path(path, revisions)


def _is_brief_file(path: Path) -> bool:
    return path.suffix.lower() in BRIEF_SUFFIXES and path.is_file()


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def _read_path(path: Path, revisions: RevisionSource | None) -> list[BriefEntry]:
    source = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return [
                _source_error(source, f"file is {size:,} bytes; at most {MAX_FILE_BYTES:,} bytes (1 MiB) are accepted")
            ]
        data = path.read_bytes()
    except FileNotFoundError:
        return [_source_error(source, "no such file or folder")]
    except OSError as err:
        return [_source_error(source, f"cannot read: {err.strerror or err}")]
    return read_brief_bytes(data, source, revisions)


def _read_s3(uri: str, revisions: RevisionSource | None) -> list[BriefEntry]:
    single = uri.lower().endswith(BRIEF_SUFFIXES)
    root, _, name = uri.rstrip("/").rpartition("/") if single else (uri.rstrip("/"), "", "")
    try:
        store = open_store(root)
        keys = [name] if single else [k for k in store.list() if k.lower().endswith(BRIEF_SUFFIXES)]
        if not keys:
            return [_source_error(uri, "no *.yaml or *.yml objects under this prefix")]
        entries = []
        for key in keys:
            try:
                check_key(key)
            except StoreURIError as err:  # S3 takes any key; we refuse those that could name another path
                entries.append(_source_error(store.uri, f"object skipped: {err}; rename it to have it read"))
                continue
            info = store.stat(key)
            if info.size > MAX_FILE_BYTES:
                entries.append(_source_error(store.uri_for(key), f"object is {info.size:,} bytes; at most 1 MiB"))
                continue
            entries.extend(read_brief_bytes(store.get_bytes(key), store.uri_for(key), revisions))
        return entries
    except StoreError as err:
        return [_source_error(uri, str(err))]


def _source_error(source: str, message: str) -> BriefEntry:
    return BriefEntry(source, 0, error=BriefFileError([Problem("", message)], source))
