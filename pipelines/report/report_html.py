"""The audition page of a batch: one self-contained HTML file to listen to, look at and check every cue.

The page has a header (batch, status, counts, total audio, the cue sheet), a table of failures, an index of the
cues, then one card per rendered cue: what was asked for (the brief, the seed), a player, its audition room
(``audition.py``: waveform, playhead, sections and hits, stems solo and mute, A/B with its alternates, layers and the
batch's other cues, the plan's notes), the piano roll, the plan (sections, tempo map, hits asked and landed), the
quality numbers and download links. CSS and script are inline and nothing else is fetched, so the page works from a
laptop's disk, a bucket or an email attachment alike (with links that reach the files); without a script, the
``<audio>`` players, the waveform and the markers remain.

Where the files are is the caller's business: every file is referred to by its store key
(``cues/<cue-id>/<render-key>/<name>``) passed through ``link``, which returns the URL the page uses, e.g. a
relative path (:func:`relative_link`) for a local store, or a presigned URL for S3.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from html import escape
from urllib.parse import quote

import yaml

from cues.pipelines.report.audition import (
    AUDITION_SCRIPT,
    AUDITION_STYLE,
    Comparison,
    audition_room,
    comparison,
    cue_catalog,
    hit_landed,
)
from cues.pipelines.report.game_audio import game_players
from cues.pipelines.store.uri import check_key
from cues.schemas.batch import BatchRecord, BriefOutcome, CueResult
from cues.schemas.manifest import CueManifest, FileEntry, download_name
from cues.schemas.plan import Plan

PLAYERS = ("preview.mp3", "mix.wav", "mix.flac")  # the first the cue has plays: the MP3 is small and plays anywhere
PIANOROLL_FILE = "pianoroll.png"
DOWNLOADS = ("mix.wav", "mix.flac", "preview.mp3", "cue.mid")  # in this order, before the stems
MISSING = "—"  # shown for a value the record does not have

STYLE = (
    """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1280px;
padding:16px 24px;color:#1d1d1f;background:#fafafa}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:0}h3{font-size:14px;margin:12px 0 4px}
code{font:12px ui-monospace,Menlo,Consolas,monospace}.dim{color:#6e6e73}.bad{color:#c00}.warn{color:#a60}
.counts span{display:inline-block;margin-right:18px}
table{border-collapse:collapse;font-size:13px}td,th{padding:2px 10px 2px 0;text-align:left;vertical-align:top}
th{font-weight:600;color:#444}tr+tr td{border-top:1px solid #eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
section{margin:20px 0}.cue{background:#fff;border:1px solid #ddd;border-radius:8px;padding:14px 18px;margin:16px 0}
.facts span{margin-right:14px}audio{width:100%;margin:10px 0 6px}
img.roll{display:block;width:100%;height:auto;border:1px solid #eee;margin:6px 0}
.cols{display:flex;flex-wrap:wrap;gap:8px 40px}dl{display:grid;grid-template-columns:auto auto;gap:2px 14px;margin:0}
dt{color:#444}dd{margin:0;font-variant-numeric:tabular-nums}.file{margin-right:16px;white-space:nowrap}
.bar{display:inline-block;position:relative;width:96px;height:10px;background:#f2f2f2;vertical-align:middle}
.bar .band{position:absolute;left:37.5%;width:25%;top:0;bottom:0;background:#dfeedd}
.bar .margin{position:absolute;top:2px;bottom:2px;background:#3a7bd5}
details.brief pre{font:12px ui-monospace,Menlo,Consolas,monospace;background:#f6f6f6;padding:6px 10px;margin:4px 0}
ul.notes{margin:4px 0;padding-left:18px}
"""
    + AUDITION_STYLE
)
# One player at a time: auditioning two cues at once is never what the listener wants.
SCRIPT = (
    "document.addEventListener('play',function(e){document.querySelectorAll('audio').forEach("
    "function(a){if(a!==e.target)a.pause();});},true);\n" + AUDITION_SCRIPT
)


def report_html(batch: BatchRecord, manifests: dict[str, CueManifest], link: Callable[[str], str]) -> str:
    """The audition page of ``batch`` as one HTML document.

    ``manifests`` maps a cue id to that cue's manifest; a delivered cue without one still gets a card, saying so.
    ``link`` maps a store key to the URL the page uses for it; it is called once per file the page refers to.
    Every string from the record is HTML-escaped.
    """
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>Batch {escape(batch.batch_id)}</title>",
        f"<style>{STYLE}</style></head><body>",
        _header(batch, manifests, link),
    ]
    if batch.failures or batch.failed_cues:
        parts.append(_failures(batch.failures, batch.failed_cues))
    if batch.delivered:
        parts.append(_index(batch.delivered, manifests))
    prefixes = {r.cue_id: r.prefix for r in batch.delivered}
    masters = {cue_id: comparison(m, link, prefixes.get(cue_id)) for cue_id, m in manifests.items()}
    masters = {cue_id: c for cue_id, c in masters.items() if c is not None}
    parts.append(cue_catalog(masters.values()))
    parts.extend(
        _card(result, manifests.get(result.cue_id), link, _same_brief(result.cue_id, manifests, masters))
        for result in batch.delivered
    )
    parts.append(f"<script>{SCRIPT}</script></body></html>\n")
    return "\n".join(parts)


def relative_link(report_key: str) -> Callable[[str], str]:
    """The ``link`` for a page stored at ``report_key`` in a local store: store key → relative, URL-quoted path.

    For ``batches/b-1/report.html``, ``cues/x/k-1/mix.wav`` becomes ``../../cues/x/k-1/mix.wav``. Raises
    :class:`~cues.schemas.errors.StoreURIError` for a key that is not a safe relative store key.
    """
    folder = posixpath.dirname(check_key(report_key, what="report key")) or "."

    def link(key: str) -> str:
        return quote(posixpath.relpath(check_key(key), folder), safe="/")

    return link


# --- the parts of the page ------------------------------------------------------------------------------------


def _same_brief(cue_id: str, manifests: dict[str, CueManifest], masters: dict[str, Comparison]) -> list[Comparison]:
    """The cues listed first in a card's menu of other cues: its brief's variations and cutdowns (the page's
    catalog offers the rest)."""
    brief = manifests[cue_id].brief_id if cue_id in manifests else None
    return [c for other, c in masters.items() if other != cue_id and manifests[other].brief_id == brief]


def _header(batch: BatchRecord, manifests: dict[str, CueManifest], link: Callable[[str], str]) -> str:
    rendered = sum(1 for r in batch.delivered if not r.skipped)
    skipped = sum(1 for r in batch.delivered if r.skipped)
    failed = len(batch.failed_cues)
    seconds = sum(_duration_s(r, manifests.get(r.cue_id)) or 0.0 for r in batch.delivered)
    briefs, invalid_briefs = len(batch.briefs), len(batch.failures)
    counts = [
        f"<span><b>{rendered}</b> rendered</span>",
        f"<span><b>{skipped}</b> already in the store</span>",
        f'<span class="{"bad" if failed else ""}"><b>{failed}</b> failed</span>',
        f"<span><b>{seconds / 60:.1f}</b> min of audio</span>",
        f"<span>{briefs} brief{'s' * (briefs != 1)}"
        + (f', <span class="bad">{invalid_briefs} invalid</span>' if invalid_briefs else "")
        + "</span>",
    ]
    return (
        f"<header><h1>Batch <code>{escape(batch.batch_id)}</code></h1>"
        f'<p class="dim">{escape(batch.status)} · created {escape(batch.created)}</p>'
        f'<p class="counts">{"".join(counts)}</p>'
        f'<p><a href="{escape(link(f"{batch.folder}/cuesheet.csv"))}" download="{escape(batch.batch_id)}_cuesheet.csv">'
        "cue sheet (CSV)</a></p></header>"
    )


def _failures(briefs: tuple[BriefOutcome, ...], cues: tuple[CueResult, ...]) -> str:
    rows = [_row("brief", f"{b.brief} ({b.source})", b.error or "invalid") for b in briefs]
    rows += [_row("cue", r.cue_id, r.error or "failed") for r in cues]
    return (
        '<section id="failures"><h2 class="bad">Failures</h2><table>'
        "<tr><th>what</th><th>which</th><th>message</th></tr>" + "".join(rows) + "</table></section>"
    )


def _index(results: tuple[CueResult, ...], manifests: dict[str, CueManifest]) -> str:
    """One line per delivered cue, as the CLI prints it, each linking to its card."""
    rows = []
    for result in results:
        cue_id = result.cue_id
        quality = result.quality or {}
        estimate = quality.get("key_estimate") or {}
        status = "already in the store" if result.skipped else "rendered"
        rows.append(
            f'<tr><td><a href="#{escape(_anchor(cue_id))}">{escape(cue_id)}</a></td>'
            f'<td class="n">{_clock(_duration_s(result, manifests.get(cue_id)))}</td>'
            f'<td class="n">{_fmt(quality.get("in_key_rate"), ".3f")}</td>'
            f"<td>{escape(_key_heard(estimate))}</td>"
            f'<td class="n">{_fmt(quality.get("hit_error_max_ms"), ".1f")}</td>'
            f'<td class="n">{_fmt(result.audio and result.audio.loudness_lufs, ".1f")}</td>'
            f'<td class="n">{_fmt(result.audio and result.audio.true_peak_dbtp, ".1f")}</td>'
            f"<td>{escape(status)}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("cue", "length", "in key", "key heard", "hit ms", "LUFS", "dBTP", ""))
    return f'<section id="index"><h2>Cues</h2><table><tr>{head}</tr>{"".join(rows)}</table></section>'


def _card(
    result: CueResult, manifest: CueManifest | None, link: Callable[[str], str], compare: list[Comparison]
) -> str:
    cue_id = result.cue_id
    if manifest is None:
        return (
            f'<article class="cue" id="{escape(_anchor(cue_id))}"><h2>{escape(cue_id)}</h2>'
            f'<p class="warn">No manifest for this cue, so nothing to show; look under '
            f"<code>{escape(result.prefix)}</code>.</p></article>"
        )
    brief, plan, files = manifest.brief, manifest.plan, manifest.files
    prefix = (result.prefix or manifest.prefix).rstrip("/")
    facts = [
        ("medium", brief.medium.value),
        ("mood", ", ".join(plan.moods)),
        ("key", plan.key),
        ("tempo", f"{_fmt(plan.tempo_bpm, '.1f')} bpm"),
        ("meter", plan.meter),
        ("length", _clock(_duration_s(result, manifest))),
        ("ending", plan.ending.value),
        ("variation", manifest.variation),
        ("seed", manifest.seed),
    ]
    if manifest.cutdown is not None:
        facts.append(("cutdown", manifest.cutdown_label))
    parts = [
        f'<article class="cue" id="{escape(_anchor(cue_id))}">',
        f'<h2>{escape(brief.title or cue_id)} <code class="dim">{escape(cue_id)}</code></h2>',
        '<p class="facts">'
        + "".join(f'<span><span class="dim">{k}</span> {escape(str(v or MISSING))}</span>' for k, v in facts)
        + "</p>",
    ]
    player = next((name for name in PLAYERS if name in files), None)
    if player:
        parts.append(f'<audio controls preload="none" src="{escape(link(f"{prefix}/{player}"))}"></audio>')
    parts.append(audition_room(manifest, link, prefix, compare))
    parts.append(_brief(manifest))
    if PIANOROLL_FILE in files:
        src = escape(link(f"{prefix}/{PIANOROLL_FILE}"))
        parts.append(f'<img class="roll" src="{src}" alt="piano roll of {escape(cue_id)}">')
    parts.append(
        f'<div class="cols"><div>{_plan(plan)}</div><div>{_quality(manifest)}{_stems(manifest)}</div>'
        f"<div>{_balance(manifest)}</div></div>"
    )
    parts.append(_alternates(manifest, prefix, link))
    parts.append(game_players(manifest, link))
    parts.append(_downloads(manifest.cue_id, prefix, files, link))
    parts.append("</article>")
    return "\n".join(parts)


def _plan(plan: Plan) -> str:
    sections = [
        _row(s.label, f"{_clock(s.start_s)}–{_clock(s.end_s)}", _fmt(s.bars, "d"), _fmt(s.intensity, ".2f"))
        for s in plan.sections
    ]
    tempos = [_row(_fmt(t.bar, "g"), _clock(t.start_s), _fmt(t.bpm, ".2f")) for t in plan.tempo_map]
    html = ["<h3>Sections</h3>", _table(("section", "time", "bars", "intensity"), sections)]
    html += ["<h3>Tempo map</h3>", _table(("bar", "from", "bpm"), tempos)]
    if plan.hits:
        rows = [
            _row(
                f"{_fmt(h.requested_s, '.3f')} s",
                f"{_fmt(h.achieved_s, '.3f')} s",
                _fmt(h.error_ms, ".1f"),
                f"{h.bar}.{h.beat}",
                h.placement,
                hit_landed(h.error_ms),
            )
            for h in plan.hits
        ]
        head = ("requested", "landed", "error ms", "bar.beat", "placement", "")
        html += ["<h3>Hits</h3>", _table(head, rows)]
    if plan.revision:
        html += ['<h3>Revision</h3><ul class="revision">']
        html += [f"<li>{escape(line)}</li>" for line in plan.revision.lines()]
        html += ["</ul>"]
    return "".join(html)


def _brief(manifest: CueManifest) -> str:
    """The brief with its defaults decided, as YAML, folded away: what the cue was asked to be."""
    text = yaml.safe_dump(
        manifest.brief.model_dump(mode="json", exclude_none=True), sort_keys=False, allow_unicode=True
    )
    return f'<details class="brief"><summary>the brief (resolved)</summary><pre>{escape(text)}</pre></details>'


def _quality(manifest: CueManifest) -> str:
    quality, audio, mix = manifest.quality, manifest.audio, manifest.mix
    estimate = quality.get("key_estimate") or {}
    match = quality.get("key_match")
    heard = _key_heard(estimate)
    if estimate.get("correlation") is not None:
        heard += f" (r = {estimate['correlation']:.2f})"
    if match is not None:
        heard += ", as planned" if match else ", NOT as planned"
    limiter = audio.limiter
    limited = f"engaged, up to {_fmt(limiter.max_gain_reduction_db, '.1f')} dB" if limiter.engaged else "not engaged"
    rows = [
        ("in-key rate", _fmt(quality.get("in_key_rate"), ".3f")),
        ("key heard", heard or MISSING),
        ("hit error, max", f"{_fmt(quality.get('hit_error_max_ms'), '.1f')} ms" if quality.get("hits") else "no hits"),
        ("loudness", f"{_fmt(mix and mix.loudness_lufs, '.1f')} LUFS"),
        ("true peak", f"{_fmt(mix and mix.true_peak_dbtp, '.1f')} dBTP"),
        ("limiter", limited),
        ("silent stems", ", ".join(audio.silent_stems) or "none"),
        ("soundfont", audio.soundfont.name),
    ]
    body = "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in rows)
    return f"<h3>Quality</h3><dl>{body}</dl>"


def _stems(manifest: CueManifest) -> str:
    """The delivered stems with the role groups each carries, and those asked for that have no notes."""
    audio = manifest.audio
    rows = [_row(name, ", ".join(stem.groups or (name,))) for name, stem in audio.stems.items()]
    rows += [_row(name, "absent: no notes in this cue") for name in audio.absent_stems]
    return "<h3>Stems</h3>" + _table(("stem", "role groups"), rows)


def _alternates(manifest: CueManifest, prefix: str, link: Callable[[str], str]) -> str:
    """A player per alternate mix, with the stems it keeps, its loudness and flags; nothing when none was asked."""
    rows = []
    for name, alternate in manifest.audio.alternates.items():
        file = manifest.alternate_file(name)
        flags = [f"missing: {', '.join(alternate.missing)}"] if alternate.missing else []
        flags += ["= the mix"] * alternate.equals_mix + ["limited"] * alternate.limited
        if file is None:
            why = "silent: nothing it keeps sounds in this cue" if alternate.silent else "no WAV or FLAC delivered"
            player = f'<span class="warn">{why}</span>'
        else:
            player = f'<audio controls preload="none" src="{escape(link(f"{prefix}/{file}"))}"></audio>'
        rows.append(
            f"<tr><td>{escape(name)}</td><td>{escape(', '.join(alternate.stems) or MISSING)}</td>"
            f'<td class="n">{_fmt(file and manifest.files[file].loudness_lufs, ".1f")}</td>'
            f'<td class="dim">{escape("; ".join(flags))}</td><td>{player}</td></tr>'
        )
    if not rows:
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("alternate", "stems", "LUFS", "", "listen"))
    return f'<h3>Alternate mixes</h3><table class="alternates"><tr>{head}</tr>{"".join(rows)}</table>'


def _balance(manifest: CueManifest) -> str:
    """The mix rule's faders per section (``pipelines/render/balance.py``): the lead's and the accompaniment's gain,
    and the lead's margin over the loudest other stem before and after, with a bar for the margin after (the ±3 dB
    the rule promises shaded)."""
    balance = manifest.audio.balance
    if balance is None or not balance.sections:
        return f'<h3>Mix balance</h3><p class="dim">{MISSING} nothing to balance</p>'
    rows = []
    for section, faders in zip(manifest.plan.sections, balance.sections, strict=False):
        rows.append(
            f"<tr><td>{escape(section.label)}</td>"
            f'<td class="n">{_fmt(faders.lead_db, "+.2f")}</td>'
            f'<td class="n">{_fmt(faders.accompaniment_db, "+.2f")}</td>'
            f'<td class="n">{_fmt(faders.margin_db, "+.2f")}</td>'
            f'<td class="n">{_fmt(faders.balanced_margin_db, "+.2f")}</td>'
            f"<td>{_margin_bar(faders.balanced_margin_db)}</td></tr>"
        )
    head = "".join(f"<th>{h}</th>" for h in ("section", "lead dB", "accomp. dB", "margin before", "after", ""))
    return (
        f'<h3>Mix balance <span class="dim">lead: {escape(balance.lead or MISSING)}</span></h3>'
        f'<table class="balance"><tr>{head}</tr>{"".join(rows)}</table>'
    )


def _margin_bar(margin: float | None) -> str:
    """A bar from 0 dB to ``margin`` on a −12…+12 dB scale, over the shaded ±3 dB band; empty where the lead rests."""
    if margin is None:
        return ""
    low, high = sorted((50.0, 50.0 + max(-12.0, min(12.0, margin)) / 24.0 * 100.0))  # percent of the bar
    return (
        f'<span class="bar" title="{margin:+.2f} dB"><span class="band"></span>'
        f'<span class="margin" style="left:{low:.1f}%;width:{high - low:.1f}%"></span></span>'
    )


def _downloads(cue_id: str, prefix: str, files: dict[str, FileEntry], link: Callable[[str], str]) -> str:
    # stems in the manifest's order, which is the plan's: melody first, percussion last
    delivered = ("stems/", "alternates/", "layers/", "stingers/")
    names = [n for n in DOWNLOADS if n in files] + [n for n in files if n.startswith(delivered)]
    anchors = [
        f'<span class="file"><a href="{escape(link(f"{prefix}/{name}"))}" '
        f'download="{escape(download_name(cue_id, name))}">{escape(name)}</a>'
        f'<span class="dim"> {escape(_size(files[name].bytes))}</span></span>'
        for name in names
    ]
    return f'<p class="files"><span class="dim">download</span> {" ".join(anchors)}</p>'


# --- small formatters -----------------------------------------------------------------------------------------


def _row(*cells: object) -> str:
    return "<tr>" + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def _table(head: tuple[str, ...], rows: list[str]) -> str:
    if not rows:
        return f'<p class="dim">{MISSING}</p>'
    return "<table><tr>" + "".join(f"<th>{escape(h)}</th>" for h in head) + "</tr>" + "".join(rows) + "</table>"


def _fmt(value: object, spec: str) -> str:
    """``value`` formatted with ``spec``, or the missing-value dash if it is absent or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return MISSING
    return format(int(value) if spec == "d" else value, spec)


def _clock(seconds: object) -> str:
    """Seconds as ``m:ss.s`` (``1:05.0``), which reads faster than ``65.0 s`` next to a timeline."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float):
        return MISSING
    minutes, rest = divmod(round(float(seconds), 1), 60)
    return f"{int(minutes)}:{rest:04.1f}"


def _size(size: object) -> str:
    if not isinstance(size, int):
        return ""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if size >= scale:
            return f"{size / scale:.1f} {unit}"
    return f"{size} B"


def _duration_s(result: CueResult, manifest: CueManifest | None) -> float | None:
    """The rendered audio's duration in seconds: the manifest's, else the batch record's, else the planned."""
    if manifest is not None:
        return manifest.audio.duration_s
    return result.audio.duration_s if result.audio else result.length_s


def _key_heard(estimate: dict) -> str:
    return f"{estimate.get('tonic', '')} {estimate.get('mode', '')}".strip()


def _anchor(cue_id: str) -> str:
    return f"cue-{cue_id}"
