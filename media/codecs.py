"""Audio codecs the relay speaks (PCMU, PCMA, opus; RFC 4733 telephone-event), their negotiation, and the
transcoder that turns one codec's RTP payloads into another's (PyAV, which aiortc already brings).

A `Codec` is what an offer/answer settles for one side of a call: the payload type that side uses, the
encoding name and clock rate. Opus is always `opus/48000/2` on the wire (RFC 7587 section 7); we encode
mono (`stereo=0`) in 20 ms frames.
"""

from __future__ import annotations

import fractions
from dataclasses import dataclass
from typing import Any, Literal

import av

TELEPHONE_EVENT = "telephone-event"


@dataclass(frozen=True, slots=True)
class Codec:
    """One negotiated payload format: `name` lower-case as IANA registers it (RFC 4855), e.g. "pcmu"."""

    name: str
    clock_rate: int
    payload_type: int
    channels: int = 1
    fmtp: str = ""

    @property
    def key(self) -> tuple[str, int]:
        """What two sides must share for packets to be forwarded unchanged."""
        return (self.name, self.clock_rate)

    @property
    def samples_per_20ms(self) -> int:
        return self.clock_rate // 50


PCMU = Codec("pcmu", 8000, 0)
PCMA = Codec("pcma", 8000, 8)
OPUS = Codec("opus", 48000, 111, channels=2, fmtp="minptime=10;useinbandfec=1;stereo=0;sprop-stereo=0")
AUDIO_CODECS = (OPUS, PCMU, PCMA)  # our preference, best first
DTMF_48K = Codec(TELEPHONE_EVENT, 48000, 126)
DTMF_8K = Codec(TELEPHONE_EVENT, 8000, 101)


class NegotiationError(ValueError):
    """No audio codec in common (SIP: 488; Jingle: failed-application)."""


def codec(
    name: str, clock_rate: int, payload_type: int, channels: int | None = None, fmtp: str = ""
) -> Codec:
    """A Codec from what an rtpmap says (names compare case-insensitively)."""
    return Codec(name.lower(), clock_rate, payload_type, channels or 1, fmtp)


_AV_NAMES = {"pcmu": "pcm_mulaw", "pcma": "pcm_alaw", "opus": "libopus"}
_DECODED_RATE = {"pcmu": 8000, "pcma": 8000, "opus": 48000}  # what libavcodec's decoders put out
_OPUS_INPUT_RATES = (8000, 12000, 16000, 24000, 48000)  # libopus encodes these without resampling


def _context(name: str, mode: Literal["r", "w"]) -> Any:
    """An audio codec context (PyAV's stubs type `create` as the base class, without audio fields)."""
    return av.CodecContext.create(name, mode)


class Transcoder:
    """Payloads of `source` in, payloads of `target` out, each with its RTP sample count (20 ms frames).

    Decodes with libavcodec, resamples only where the rates differ (opus is encoded from 8 kHz audio as is:
    narrowband, which is all G.711 carries), re-frames into 20 ms and encodes. A lost packet is simply
    missing (no concealment). `opus_complexity` (0-10) trades encoder CPU for quality; 1 keeps narrowband
    speech (all G.711 carries) clean at a fraction of the default 10's cost.
    """

    def __init__(self, source: Codec, target: Codec, *, opus_complexity: int = 1) -> None:
        self.source = source
        self.target = target
        decoded_rate = _DECODED_RATE[source.name]
        self._decoder = _context(_AV_NAMES[source.name], "r")
        self._decoder.sample_rate = decoded_rate
        self._decoder.layout = "mono"
        self._decoder.format = "s16"
        if target.name == "opus":
            rate = decoded_rate if decoded_rate in _OPUS_INPUT_RATES else 48000
        else:
            rate = target.clock_rate
        self._encoder = _context(_AV_NAMES[target.name], "w")
        self._encoder.sample_rate = rate
        self._encoder.layout = "mono"
        self._encoder.format = "s16"
        self._encoder.time_base = fractions.Fraction(1, rate)
        if target.name == "opus":
            self._encoder.bit_rate = 24000 if rate <= 16000 else 32000
            self._encoder.options = {
                "application": "voip",
                "frame_duration": "20",
                "compression_level": str(opus_complexity),
            }
        self._frame = rate // 50
        self._rtp_samples = target.clock_rate // 50  # opus: always 960 per 20 ms on the wire (RFC 7587)
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=rate, frame_size=self._frame)
        self._direct = decoded_rate == rate  # same rate: frames of the right size skip the resampler
        self._pts = 0

    def transcode(self, payload: bytes) -> list[tuple[bytes, int]]:
        """The target payloads (and RTP sample counts) this source payload completes (often one, at the
        start possibly none while a frame fills)."""
        out: list[tuple[bytes, int]] = []
        for frame in self._decoder.decode(av.Packet(payload)):
            frame.pts = None
            chunks = (
                [frame] if self._direct and frame.samples == self._frame else self._resampler.resample(frame)
            )
            for chunk in chunks:
                chunk.pts = self._pts
                self._pts += chunk.samples
                for encoded in self._encoder.encode(chunk):
                    out.append((bytes(encoded), self._rtp_samples))
        return out
