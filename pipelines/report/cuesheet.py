"""The cue sheet of a batch: one CSV row per cue, for the editor, the music supervisor and the rights paperwork.

Columns, always in this order (``COLUMNS``):

========================  ===========================================================================
``cue_id``                the cue's id (brief id, plus ``-v2``/``-30s`` for variations and cutdowns)
``title``                 the brief's title; empty if the brief has none
``brief_id``              the brief the cue came from
``medium``                ``film``, ``tv``, ``trailer``, ``game``, ``ad`` or ``web``
``mood``                  the brief's moods, joined with ``/``
``key``                   the planned key, e.g. ``C# minor``
``tempo_bpm``             the planned tempo, beats per minute (the tempo map's first tempo)
``meter``                 e.g. ``4/4``
``duration_s``            the rendered audio's duration, seconds (with its tail, if the ending rings out)
``ending``                how the cue ends: ``ring_out``, ``button``, ``cut``, ``fade`` or ``loop``
``loudness_lufs``         integrated loudness of ``mix.wav``, LUFS (ITU-R BS.1770)
``true_peak_dbtp``        true peak of ``mix.wav``, dBTP
``variation``             1-based variation number
``cutdown``               the cutdown's length in seconds; empty for the full-length cue
``render_key``            the render's content key (``k-…``), the folder under ``cues/<cue_id>/``
``files``                 the store keys of the cue's files (``cues/<id>/<key>/<name>``), ``;``-joined,
                          in the manifest's order, then the manifest itself
========================  ===========================================================================

Empty cells mean "not known" (never ``None`` or ``nan``). Numbers are written as Python prints them. Rows use
the csv module's default ``excel`` dialect: comma-separated, quoted where needed, ``\\r\\n`` line ends.
"""

from __future__ import annotations

import csv
import io

COLUMNS = (
    "cue_id",
    "title",
    "brief_id",
    "medium",
    "mood",
    "key",
    "tempo_bpm",
    "meter",
    "duration_s",
    "ending",
    "loudness_lufs",
    "true_peak_dbtp",
    "variation",
    "cutdown",
    "render_key",
    "files",
)
MIX_FILE = "mix.wav"  # the delivery master: its loudness and peak are the cue's
MANIFEST_FILE = "manifest.json"  # in every cue folder, but not listed in its own ``files``


def cuesheet_csv(manifests: list[dict], prefixes: dict[str, str]) -> str:
    """The cue sheet of ``manifests`` (one row each, in the given order) as CSV text with a header row.

    ``prefixes`` maps a cue id to the store prefix of its render (``cues/<cue_id>/<render_key>``, as in the batch
    record's results); a cue missing from it gets that default from its manifest. Raises ``ValueError`` naming
    the manifest if one has no ``cue_id`` or ``cue_key``.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for manifest in manifests:
        writer.writerow(cue_row(manifest, prefixes))
    return buffer.getvalue()


def cue_row(manifest: dict, prefixes: dict[str, str]) -> dict[str, str]:
    """One cue's cue-sheet row, every value already a string (see the module docstring for the columns)."""
    cue_id, render_key = manifest.get("cue_id"), manifest.get("cue_key")
    if not cue_id or not render_key:
        raise ValueError(f"manifest of cue {cue_id!r} has no cue_id or cue_key; is it a cue manifest?")
    prefix = store_prefix(manifest, prefixes)
    brief = manifest.get("brief") or {}
    plan = manifest.get("plan") or {}
    audio = manifest.get("audio") or {}
    files = manifest.get("files") or {}
    mix = files.get(MIX_FILE) or {}
    names = [*files, MANIFEST_FILE]
    return {
        "cue_id": cue_id,
        "title": _cell(brief.get("title")),
        "brief_id": _cell(manifest.get("brief_id") or brief.get("id")),
        "medium": _cell(brief.get("medium") or plan.get("medium")),
        "mood": "/".join(str(m) for m in brief.get("mood") or plan.get("moods") or []),
        "key": _cell(plan.get("key") or brief.get("key")),
        "tempo_bpm": _cell(plan.get("tempo_bpm")),
        "meter": _cell(plan.get("meter") or brief.get("meter")),
        "duration_s": _cell(audio.get("duration_s")),
        "ending": _cell(plan.get("ending") or brief.get("ending")),
        "loudness_lufs": _cell(mix.get("loudness_lufs")),
        "true_peak_dbtp": _cell(mix.get("true_peak_dbtp")),
        "variation": _cell(manifest.get("variation")),
        "cutdown": _cell(manifest.get("cutdown")),
        "render_key": render_key,
        "files": ";".join(f"{prefix}/{name}" for name in names),
    }


def store_prefix(manifest: dict, prefixes: dict[str, str]) -> str:
    """The store prefix of a cue's render: ``prefixes[cue_id]`` if given, else ``cues/<cue_id>/<cue_key>``."""
    given = prefixes.get(manifest["cue_id"])
    return (given or f"cues/{manifest['cue_id']}/{manifest['cue_key']}").rstrip("/")


def _cell(value: object) -> str:
    return "" if value is None else str(value)
