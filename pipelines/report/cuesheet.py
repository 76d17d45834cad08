"""The cue sheet of a batch: one CSV row per cue, for the editor, the music supervisor and the rights paperwork.

Columns, always in this order (``COLUMNS``):

========================  ===========================================================================
``cue_id``                the cue's id (brief id, plus ``-v2``/``-30s`` for variations and cutdowns)
``title``                 the brief's title; empty if the brief has none; with a ``'`` in front when it starts
                          with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return (see below)
``brief_id``              the brief the cue came from
``medium``                ``film``, ``tv``, ``trailer``, ``game``, ``ad`` or ``web``
``mood``                  the brief's moods, joined with ``/``
``key``                   the planned key, e.g. ``C# minor``
``tempo_bpm``             the planned tempo, beats per minute (the tempo map's first tempo)
``meter``                 e.g. ``4/4``
``duration_s``            the rendered audio's duration, seconds (with its tail, if the ending rings out)
``ending``                how the cue ends: ``ring_out``, ``button``, ``cut``, ``fade`` or ``loop``
``loudness_lufs``         integrated loudness of the delivery master (``mix.wav``, else ``mix.flac``), LUFS
                          (ITU-R BS.1770); empty when the cue has neither
``true_peak_dbtp``        true peak of the delivery master, dBTP
``variation``             1-based variation number
``cutdown``               the cutdown's length as the brief gave it (``30`` seconds, ``8 bars``); empty for the
                          full-length cue
``render_key``            the render's content key (``k-…``), the folder under ``cues/<cue_id>/``
``files``                 the store keys of the cue's files (``cues/<id>/<key>/<name>``), ``;``-joined,
                          in the manifest's order, then the manifest itself
``alternates``            the alternate mixes delivered (``delivery.alternates``), ``;``-joined, each as
                          ``name loudness`` (``underscore -24.8``, LUFS of its master file) with
                          `` =mix`` when it is the mix's audio; one that keeps nothing that sounds is
                          ``name silent`` (no file); empty when none is asked for
========================  ===========================================================================

Empty cells mean "not known" (never ``None`` or ``nan``). Numbers are written as Python prints them. Rows use
the csv module's default ``excel`` dialect: comma-separated, quoted where needed, ``\\r\\n`` line ends.

A text cell that a spreadsheet would run as a formula (it starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return: a title such as ``=HYPERLINK(...)``) gets a single quote ``'`` in front, as OWASP's CSV-injection guidance
advises; spreadsheets then show it as text. Number cells (``-23.0``) are never changed.
"""

from __future__ import annotations

import csv
import io

from cues.schemas.manifest import CueManifest

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
    "alternates",  # added last, so the columns before keep their places
)
MANIFEST_FILE = "manifest.json"  # in every cue folder, but not listed in its own ``files``


def cuesheet_csv(manifests: list[CueManifest], prefixes: dict[str, str]) -> str:
    """The cue sheet of ``manifests`` (one row each, in the given order) as CSV text with a header row.

    ``prefixes`` maps a cue id to the store prefix of its render (``cues/<cue_id>/<render_key>``, as in the batch
    record's results); a cue missing from it gets its manifest's own folder.
    """
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
    writer.writeheader()
    for manifest in manifests:
        writer.writerow(cue_row(manifest, prefixes.get(manifest.cue_id) or manifest.prefix))
    return buffer.getvalue()


def cue_row(manifest: CueManifest, prefix: str) -> dict[str, str]:
    """One cue's cue-sheet row, every value already a string (see the module docstring for the columns)."""
    brief, plan, mix = manifest.brief, manifest.plan, manifest.mix
    prefix = prefix.rstrip("/")
    return {
        "cue_id": _cell(manifest.cue_id),
        "title": _cell(brief.title),
        "brief_id": _cell(manifest.brief_id),
        "medium": brief.medium.value,
        "mood": _cell("/".join(brief.mood)),
        "key": _cell(plan.key),
        "tempo_bpm": _cell(plan.tempo_bpm),
        "meter": _cell(plan.meter),
        "duration_s": _cell(manifest.audio.duration_s),
        "ending": plan.ending.value,
        "loudness_lufs": _cell(mix and mix.loudness_lufs),
        "true_peak_dbtp": _cell(mix and mix.true_peak_dbtp),
        "variation": _cell(manifest.variation),
        "cutdown": _cell(manifest.cutdown),
        "render_key": _cell(manifest.cue_key),
        "files": _cell(";".join(f"{prefix}/{name}" for name in [*manifest.files, MANIFEST_FILE])),
        "alternates": _cell(";".join(_alternate(manifest, name) for name in manifest.audio.alternates)),
    }


def _alternate(manifest: CueManifest, name: str) -> str:
    alternate = manifest.audio.alternates[name]
    if alternate.silent:
        return f"{name} silent"
    file = manifest.alternate_file(name)
    loudness = manifest.files[file].loudness_lufs if file else None
    return f"{name} {_cell(loudness)}".strip() + (" =mix" if alternate.equals_mix else "")


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula (OWASP)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, str):  # text only: a number such as -23.0 stays a number
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    return str(value)
