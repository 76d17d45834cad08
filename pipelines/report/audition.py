"""One cue's audition room: its waveform with a playhead, the plan's sections and hits on it, and a player that plays
the mix, the stems (each soloed or muted), the alternates, the game layers, or another cue, switching between them at
the same position. Built from the cue's manifest alone, so the batch report and an HTTP service's page use the same
block (:func:`audition_room`), list of the page's cues to compare with (:func:`cue_catalog`), and script and style
(:data:`AUDITION_SCRIPT`, :data:`AUDITION_STYLE`).

The waveform, the markers and the plan's notes are HTML and SVG, there without a script. ``audition.js`` adds the
player: over http(s) (a presigned S3 report is one origin with its files) it decodes each file into an
``AudioBuffer`` and starts every loaded file on the one ``AudioContext`` clock, each through its own gain, so the
stems stay sample-locked and a switch (A/B) is a change of gains; from a ``file://`` page, where browsers refuse to
hand a script the bytes of another file, it plays ``Audio`` elements instead and re-seeks one that drifts more than
50 ms from the room's clock.

Decisions where the contract is silent:

- A room plays the delivery master (``mix.wav``, else ``mix.flac``), never ``preview.mp3``: an MP3 starts with the
  encoder's delay (about 25 ms at 48 kHz), which would put it out of step with the stems. A cue with neither has no
  player in its room (its ``<audio>`` player stays).
- The timeline spans the audio (``audio.duration_s``, a ring-out tail included), or the plan's length if longer.
- Nothing is fetched before the listener asks: a source's files load when it is first played or chosen.
- A cue rendered before manifests carried a waveform keeps none (its render key is the same, so a re-submit skips
  it): its timeline has the markers only, and over http(s) the script draws the mix's waveform once it is decoded.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from html import escape
from importlib.resources import files

from cues.schemas.manifest import CueManifest, Waveform
from cues.schemas.plan import Plan

MASTERS = ("mix.wav", "mix.flac")  # what a room plays of a cue: sample-aligned with its stems
PLAYABLE = (".wav", ".flac")  # a stem's, alternate's or layer's file, in order of preference
WAVE_HEIGHT = 127  # the waveform's y range is ±127, the peaks' own scale
HIT_TOLERANCE_MS = 10.0  # a hit landed further than this from where it was asked is shown as missed

AUDITION_SCRIPT = files("cues.pipelines.report").joinpath("audition.js").read_text(encoding="utf-8")
AUDITION_STYLE = """
.room{margin:10px 0 4px}.room-controls{display:flex;flex-wrap:wrap;align-items:center;gap:6px 14px;margin:0 0 6px}
.room button{font:inherit;padding:1px 9px;border:1px solid #bbb;border-radius:4px;background:#f6f6f6;cursor:pointer}
.room button.on{background:#3a7bd5;border-color:#3a7bd5;color:#fff}.room .clock{font-variant-numeric:tabular-nums}
.timeline{position:relative;height:96px;background:#f4f6fa;border:1px solid #e2e5ea;cursor:pointer;margin:18px 0 4px}
.timeline svg{position:absolute;inset:0;width:100%;height:100%}.timeline path{fill:#7d9cc9}
.mark{position:absolute;top:0;bottom:0;width:0;border-left:1px dashed #555}
.mark span{position:absolute;top:-17px;left:2px;font-size:11px;white-space:nowrap;color:#333}
.mark.hit{border-left:2px solid #e00000}.mark.hit span{top:auto;bottom:-1px;color:#e00000}
.mark.asked{border-left:1px dotted #e00000}.mark.missed span{font-weight:600}
.playhead{position:absolute;top:-3px;bottom:-3px;width:0;border-left:2px solid #111;pointer-events:none}
.mixer{display:flex;flex-wrap:wrap;gap:4px 16px;margin:4px 0}.mixer .track{white-space:nowrap}
.keys{font-size:12px;margin:2px 0}.sources label{margin-right:6px}
.room [hidden]{display:none}
"""


@dataclass(frozen=True)
class Comparison:
    """Another cue a room can switch to at the same position (a cutdown, a variation, a revision):
    its id, a label, and the URL of its delivery master."""

    cue_id: str
    label: str
    url: str


def comparison(manifest: CueManifest, link: Callable[[str], str], prefix: str | None = None) -> Comparison | None:
    """``manifest``'s cue as another room's comparison; None when it has no WAV or FLAC master to play."""
    master = next((name for name in MASTERS if name in manifest.files), None)
    if master is None:
        return None
    label = manifest.cue_id if manifest.cutdown is None else f"{manifest.cue_id} ({manifest.cutdown_label})"
    return Comparison(manifest.cue_id, label, link(f"{(prefix or manifest.prefix).rstrip('/')}/{master}"))


def audition_room(
    manifest: CueManifest,
    link: Callable[[str], str],
    prefix: str | None = None,
    compare: Sequence[Comparison] = (),
) -> str:
    """HTML of the room of ``manifest``'s cue: timeline, controls, mixer, plan notes.

    ``link`` maps a store key to the URL the page uses; ``prefix`` is the cue's folder (default: the manifest's);
    ``compare`` the other cues it can switch to. Every string from the manifest is HTML-escaped.
    """
    prefix = (prefix or manifest.prefix).rstrip("/")
    plan = manifest.plan
    duration = max(manifest.audio.duration_s, plan.length_s, 0.001)
    sources = _sources(manifest, prefix, link)
    sources += [_one_track(f"cue:{c.cue_id}", c.label, c.url) for c in compare if c.cue_id != manifest.cue_id]
    room = {"cue": manifest.cue_id, "duration": duration, "sources": sources}
    parts = [f'<div class="room" data-room="{escape(json.dumps(room, separators=(",", ":")))}">']
    if sources and sources[0]["id"] == "mix":
        parts.append(_controls(manifest.cue_id, sources, duration))
    parts.append(_timeline(manifest.audio.waveform, plan, duration))
    parts.append(_mixer(sources))
    parts.append(_plan_notes(plan))
    parts.append("</div>")
    return "".join(parts)


def cue_catalog(comparisons: Iterable[Comparison]) -> str:
    """HTML: the cues of a page as one list every room's menu of other cues draws from (``audition.js``), so that a
    page of N cues carries N links, not one per pair; a room's own ``compare`` cues come first in its menu."""
    cues = [{"cue": c.cue_id, "label": c.label, "url": c.url} for c in comparisons]
    return f'<div id="cue-catalog" hidden data-cues="{escape(json.dumps(cues, separators=(",", ":")))}"></div>'


def plan_notes(plan: Plan) -> list[tuple[str, str]]:
    """The plan's notes as (kind, text), warnings first: ``warning`` for a note that departs from the brief (a moved
    tempo, a missed hit), ``note`` for the others."""
    notes = [("warning", w) for w in plan.warnings]
    return notes + [("note", n) for n in plan.notes if n not in plan.warnings]


def hit_landed(error_ms: float) -> str:
    """``met`` or ``MISSED``: a hit landed further than 10 ms from where the brief asked is missed."""
    return "met" if abs(error_ms) <= HIT_TOLERANCE_MS else "MISSED"


# --- the parts of the room ------------------------------------------------------------------------------------


def _sources(manifest: CueManifest, prefix: str, link: Callable[[str], str]) -> list[dict]:
    """What the room can play, as the script reads it: the mix, the stems and the layers (each a source of several
    tracks, soloed and muted one by one), and each alternate that has a file."""
    master = next((name for name in MASTERS if name in manifest.files), None)
    if master is None:
        return []

    def track(track_id: str, label: str, stem: str) -> dict | None:
        name = next((stem + ext for ext in PLAYABLE if stem + ext in manifest.files), None)
        return name and {"id": track_id, "label": label, "url": link(f"{prefix}/{name}")}

    sources = [_one_track("mix", "mix", link(f"{prefix}/{master}"))]
    stems = [track(f"stem:{name}", name, f"stems/{name}") for name in manifest.audio.stems]
    if any(stems):
        sources.append({"id": "stems", "label": "stems", "mixer": True, "tracks": [t for t in stems if t]})
    for name in manifest.audio.alternates:
        alternate = track(f"alternate:{name}", name, f"alternates/{name}")
        if alternate:
            sources.append(_one_track(alternate["id"], f"alt: {name}", alternate["url"]))
    layers = manifest.audio.layers
    if layers is not None:
        found = [track(f"layer:{name}", name, f"layers/{name}") for name in layers.by_layer]
        if any(found):
            sources.append({"id": "layers", "label": "layers", "mixer": True, "tracks": [t for t in found if t]})
    return sources


def _one_track(source_id: str, label: str, url: str) -> dict:
    """A source of one file (the mix, an alternate, another cue): its one track has the source's id."""
    return {"id": source_id, "label": label, "tracks": [{"id": source_id, "label": label, "url": url}]}


def _controls(cue_id: str, sources: list[dict], duration: float) -> str:
    """Play, the clock, a radio per source of the cue, a menu of the other cues, A/B; hidden until the script runs."""
    own = [s for s in sources if not s["id"].startswith("cue:")]
    others = [s for s in sources if s["id"].startswith("cue:")]
    radios = "".join(
        f'<label><input type="radio" name="src-{escape(cue_id)}" value="{escape(s["id"])}"'
        f"{' checked' * (i == 0)}> {escape(s['label'])}</label> "
        for i, s in enumerate(own)
    )
    options = "".join(f'<option value="{escape(s["id"])}">{escape(s["label"])}</option>' for s in others)
    # always there: the script adds the page's other cues (cue_catalog) and hides a menu left empty
    menu = (
        f'<label class="compare"><span class="dim">· other cue</span> <select class="compare">'
        f'<option value="">—</option>{options}</select></label>'
    )
    return (
        '<div class="room-controls" hidden><button type="button" class="play">▶ play</button>'
        f'<span><span class="clock">0:00.0</span> / {_clock(duration)}</span>'
        f'<span class="sources"><span class="dim">listen to</span> {radios}{menu}</span>'
        '<button type="button" class="ab" title="back to the previous source, at the same position (key B)">A/B'
        '</button><span class="status dim"></span></div>'
    )


def _timeline(waveform: Waveform | None, plan: Plan, duration: float) -> str:
    """The waveform (SVG, stretched to the width), a dashed line per section start, a red line per hit where it
    landed (and a dotted one where it was asked, when it missed), and the playhead."""
    html = ['<div class="timeline" title="click to play from here">']
    if waveform is not None and waveform.high:
        html.append(_wave_svg(waveform, duration))
    for section in plan.sections:
        html.append(_mark("section", section.start_s, duration, section.label, f"section {section.label}"))
    for number, hit in enumerate(plan.hits, start=1):
        landed = hit_landed(hit.error_ms)
        title = (
            f"hit {number}: asked {hit.requested_s:.3f} s, landed {hit.achieved_s:.3f} s ({hit.error_ms:+.1f} ms), "
            f"bar {hit.bar} beat {hit.beat}, {hit.placement}, {landed}"
        )
        label = f"hit {number}" + (" MISSED" if landed == "MISSED" else "")
        html.append(_mark("hit" + " missed" * (landed == "MISSED"), hit.achieved_s, duration, label, title))
        if landed == "MISSED":
            html.append(_mark("asked", hit.requested_s, duration, "", f"hit {number} asked here"))
    html.append('<div class="playhead" style="left:0%"></div></div>')
    return "".join(html)


def _wave_svg(waveform: Waveform, duration: float) -> str:
    """The peaks as one filled outline: across on the highs, back on the lows. x is in bins, scaled so that the
    whole timeline is ``duration`` seconds; ``preserveAspectRatio="none"`` stretches it to the card's width."""
    bins = len(waveform.high)
    width = duration * waveform.sample_rate / waveform.samples_per_bin  # bins in the whole timeline
    top = " ".join(f"{i + 0.5:g},{-v}" for i, v in enumerate(waveform.high))
    bottom = " ".join(f"{i + 0.5:g},{-v}" for i, v in reversed(list(enumerate(waveform.low))))
    return (
        f'<svg viewBox="0 {-WAVE_HEIGHT} {width:.3f} {2 * WAVE_HEIGHT}" preserveAspectRatio="none" aria-hidden="true">'
        f'<path d="M0,0 L{top} L{bins:g},0 L{bottom} Z"/></svg>'
    )


def _mark(kind: str, at_s: float, duration: float, label: str, title: str) -> str:
    left = 100.0 * min(max(at_s / duration, 0.0), 1.0)
    return (
        f'<div class="mark {kind}" style="left:{left:.4f}%" data-t="{at_s:.6g}" title="{escape(title)}">'
        f"<span>{escape(label)}</span></div>"
    )


def _mixer(sources: list[dict]) -> str:
    """Solo and mute per track of the stems and the layers; hidden until the script shows the chosen source's."""
    rows = []
    for source in sources:
        if not source.get("mixer"):
            continue
        tracks = "".join(
            f'<span class="track" data-track="{escape(t["id"])}">{escape(t["label"])} '
            '<button type="button" class="solo" title="solo">S</button>'
            '<button type="button" class="mute" title="mute">M</button></span>'
            for t in source["tracks"]
        )
        rows.append(f'<div class="mixer" data-source="{escape(source["id"])}" hidden>{tracks}</div>')
    rows.append(
        '<p class="keys dim" hidden>space play/pause · ←/→ 5 s · B: A/B (the previous source, same position) · '
        "click the waveform to play from there</p>"
    )
    return "".join(rows)


def _plan_notes(plan: Plan) -> str:
    notes = plan_notes(plan)
    if not notes:
        return ""
    items = "".join(
        f'<li class="{"warn" if kind == "warning" else ""}">{escape(kind)}: {escape(text)}</li>' for kind, text in notes
    )
    return f'<ul class="notes">{items}</ul>'


def _clock(seconds: float) -> str:
    minutes, rest = divmod(round(seconds, 1), 60)
    return f"{int(minutes)}:{rest:04.1f}"
