"""A game cue's stingers as delivered files (``delivery.stingers``): each composed from the cue's plan
(``pipelines/compose/stingers.py``), rendered and mastered by the cue's renderer to the cue's loudness and ceiling,
and delivered as ``stingers/<kind>.wav`` (and ``.flac``, per the brief's formats).

Decisions where the contract is silent: stingers exist as WAV or FLAC only (like stems: no MP3, no MIDI file of
their own); a cutdown delivers none (they belong to the full-length cue and would be the same files again); each
rings out (its tail up to the renderer's 4 s) and is mastered alone, so a short stinger is as loud as the loop it
plays over.
"""

from __future__ import annotations

from typing import Any

from cues.pipelines.compose.plan import make_plan
from cues.pipelines.compose.stingers import compose_stinger
from cues.pipelines.render.cue_renderer import AudioRequest, CueRenderer
from cues.schemas.batch import CueSpec
from cues.schemas.brief import AudioFormat, Ending

CONTENT_TYPES = {AudioFormat.wav: "audio/wav", AudioFormat.flac: "audio/flac"}


def stinger_files(
    spec: CueSpec, key: str, renderer: CueRenderer
) -> tuple[dict[str, tuple[bytes, str, dict[str, Any]]], dict[str, dict[str, Any]]]:
    """The stinger files of ``spec`` (name → bytes, content type, numbers) and the manifest's ``audio.stingers``."""
    brief = spec.brief
    formats = tuple(f for f in brief.delivery.formats if f in CONTENT_TYPES)
    if not brief.delivery.stingers or not formats or spec.cutdown is not None:
        return {}, {}
    # the parts before the cue's are thinned to those with notes: every role
    cue = make_plan(brief, spec.seed, revised=spec.revision)
    delivery = brief.delivery.model_copy(update={"stems": False, "formats": formats, "layers": False, "stingers": ()})
    files, summary = {}, {}
    for kind in brief.delivery.stingers:
        stinger = compose_stinger(cue, kind)
        request = AudioRequest(
            midi=stinger.midi,
            stems=None,
            length_s=stinger.plan.length_s,
            ending=Ending.ring_out,
            delivery=delivery,
            title=f"{brief.id} stinger {kind.value}",
            reference=key,
            seed=spec.seed,
        )
        audio = renderer.render(request)
        for fmt in formats:  # a stinger is 1-2 bars: its files are read into memory and the scratch closed
            numbers = audio.file_info[f"mix.{fmt.value}"]
            files[f"stingers/{kind.value}.{fmt.value}"] = (audio.files[f"mix.{fmt.value}"], CONTENT_TYPES[fmt], numbers)
        audio.close()
        summary[kind.value] = {
            "bars": stinger.plan.bars,
            "tempo_bpm": stinger.plan.tempo_bpm,
            "length_samples": audio.summary["length_samples"],
            "tail_samples": audio.summary["tail_samples"],
            "limited": audio.summary["limiter"]["engaged"],
        }
    return files, summary
