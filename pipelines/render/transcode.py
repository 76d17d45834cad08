"""Another format of a delivered WAV, made on demand (``cues get --format flac|mp3`` for a cue whose brief did not
ask for that format), so a supervisor never has to re-render — which could change the music — to get a FLAC.

- **FLAC** is lossless: the WAV's integer samples, at its bit depth, encoded by libsndfile, then decoded again and
  compared sample for sample; any difference raises (it never has).
- **MP3** takes 16-bit samples: a 24-bit WAV is reduced with the same TPDF dither as the delivered preview
  (``to_pcm``, seeded, so the same WAV gives the same bytes), then encoded at the preview's bit rate; the caller
  adds the cue's ID3 tags.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile

from cues.pipelines.render.audio_files import Pcm, flac_bytes, mp3_bytes, to_pcm
from cues.schemas.errors import RenderError

BITS = {"PCM_16": 16, "PCM_24": 24}


def wav_pcm(wav: bytes) -> tuple[Pcm, int]:
    """The integer samples and sample rate of a delivered WAV (16- or 24-bit PCM)."""
    info = soundfile.info(io.BytesIO(wav))
    bits = BITS.get(info.subtype)
    if bits is None:
        raise RenderError(f"cannot transcode a {info.subtype} WAV: delivered WAVs are 16- or 24-bit PCM")
    samples, rate = soundfile.read(io.BytesIO(wav), dtype="int32", always_2d=True)
    return Pcm(samples >> (32 - bits), bits, 0), rate  # libsndfile left-justifies in 32 bits


def transcoded(wav: bytes, fmt: str, mp3_kbps: int = 192, seed: int = 0) -> bytes:
    """``wav`` as ``fmt`` (``flac`` or ``mp3``), as the module docstring says."""
    pcm, rate = wav_pcm(wav)
    if fmt == "flac":
        data = flac_bytes(pcm, rate)
        back, _ = soundfile.read(io.BytesIO(data), dtype="int32", always_2d=True)
        if not np.array_equal(back >> (32 - pcm.bits), pcm.samples):
            raise RenderError("the FLAC made from the WAV does not decode to the same samples")
        return data
    if fmt == "mp3":
        pcm16 = pcm if pcm.bits == 16 else to_pcm(pcm.as_float(), 16, seed)
        return mp3_bytes(pcm16, rate, mp3_kbps)
    raise RenderError(f"cannot transcode to {fmt!r}: flac or mp3")
