"""RTP and RTCP packets as bytes (RFC 3550), RFC 4733 telephone events, and the rewriting of one outgoing
RTP stream (SSRC, sequence number, timestamp) from whatever arrives. Sans-IO: bytes in, bytes out.

Only the fixed header is interpreted; CSRCs, the header extension and padding are kept or skipped as
RFC 3550 section 5.1 says, never reinterpreted.
"""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass

RTP_VERSION = 2
_HEADER = struct.Struct("!BBHII")
_EVENT = struct.Struct("!BBH")


class RtpError(ValueError):
    """Bytes that are not an RTP packet we can relay."""


def is_rtcp(data: bytes) -> bool:
    """RFC 5761 section 4: with rtcp-mux, payload types 64-95 (packet types 192-223) are RTCP."""
    return len(data) >= 2 and 192 <= data[1] <= 223


@dataclass(slots=True)
class RtpPacket:
    """The fields of an RTP packet the relay uses; `payload` excludes CSRCs, extension and padding."""

    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


def parse_rtp(data: bytes) -> RtpPacket:
    """RFC 3550 section 5.1. Raises RtpError for anything that is not version 2 RTP."""
    if len(data) < 12:
        raise RtpError("shorter than an RTP header")
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != RTP_VERSION:
        raise RtpError("not RTP version 2")
    offset = 12 + 4 * (first & 0x0F)
    if first & 0x10:  # header extension: 16-bit profile, 16-bit length in words
        if len(data) < offset + 4:
            raise RtpError("truncated header extension")
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: the last octet counts the padding octets
        if end <= offset:
            raise RtpError("padding without payload")
        end -= data[-1]
    if end < offset:
        raise RtpError("truncated packet")
    return RtpPacket(second & 0x7F, bool(second & 0x80), sequence, timestamp, ssrc, data[offset:end])


def build_rtp(packet: RtpPacket) -> bytes:
    """A minimal header (no CSRC, no extension, no padding) and the payload."""
    second = packet.payload_type | (0x80 if packet.marker else 0)
    return _HEADER.pack(0x80, second, packet.sequence, packet.timestamp, packet.ssrc) + packet.payload


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """RFC 4733 section 2.3 payload: event (0-9 digits, 10 '*', 11 '#', 12-15 A-D), end bit, volume,
    duration in timestamp units."""

    event: int
    end: bool
    volume: int
    duration: int

    @property
    def digit(self) -> str:
        return DTMF_DIGITS[self.event] if self.event < len(DTMF_DIGITS) else f"event-{self.event}"


DTMF_DIGITS = "0123456789*#ABCD"


def parse_telephone_event(payload: bytes) -> TelephoneEvent:
    if len(payload) < 4:
        raise RtpError("telephone-event payload shorter than 4 octets")
    event, flags, duration = _EVENT.unpack_from(payload)
    return TelephoneEvent(event, bool(flags & 0x80), flags & 0x3F, duration)


def build_telephone_event(event: TelephoneEvent) -> bytes:
    return _EVENT.pack(event.event, (0x80 if event.end else 0) | (event.volume & 0x3F), event.duration)


class StreamRewriter:
    """One outgoing RTP stream made from incoming packets whose SSRC, sequence and timestamp spaces are not
    ours (RFC 3550 section 8.2 / RFC 7667 section 3.2.1.3 for a translator that changes sources).

    Our SSRC and random initial sequence/timestamp never change. Per incoming SSRC it keeps offsets, so
    a source change (a new SSRC or a jump) continues our sequence without a gap and our timestamp
    shifted by the wall-clock time elapsed (`now`, in seconds) since the last packet, in our clock rate.
    Reordered and duplicated packets keep their relative order: the offset maps them, it is not a
    counter.
    """

    __slots__ = ("_last_now", "_last_out_seq", "_last_out_ts", "_last_samples", "_seq_offset", "_source",
                 "_ts_offset", "clock_rate", "ssrc")  # fmt: skip

    def __init__(self, clock_rate: int, ssrc: int | None = None) -> None:
        self.clock_rate = clock_rate
        self.ssrc = ssrc if ssrc is not None else random.getrandbits(32)
        self._source: int | None = None
        self._seq_offset = 0
        self._ts_offset = 0
        self._last_out_seq = random.getrandbits(16)
        self._last_out_ts = random.getrandbits(32)
        self._last_samples = 0
        self._last_now: float | None = None

    def rewrite(self, ssrc: int, sequence: int, timestamp: int, now: float) -> tuple[int, int]:
        """Our (sequence, timestamp) for an incoming packet of `ssrc` arriving at `now`."""
        if ssrc != self._source:
            elapsed = 0.0 if self._last_now is None else max(0.0, now - self._last_now)
            next_ts = (self._last_out_ts + max(1, round(elapsed * self.clock_rate))) & 0xFFFFFFFF
            self._seq_offset = (self._last_out_seq + 1 - sequence) & 0xFFFF
            self._ts_offset = (next_ts - timestamp) & 0xFFFFFFFF
            self._source = ssrc
        out_seq = (sequence + self._seq_offset) & 0xFFFF
        out_ts = (timestamp + self._ts_offset) & 0xFFFFFFFF
        if (
            (out_seq - self._last_out_seq) & 0xFFFF
        ) < 0x8000:  # newer (RFC 1982 style); old ones don't move us
            self._last_out_seq = out_seq
            self._last_out_ts = out_ts
            self._last_now = now
        return out_seq, out_ts

    def next_own(self, samples: int, now: float) -> tuple[int, int]:
        """(sequence, timestamp) for an audio packet we make ourselves (a transcoder's output) that carries
        `samples` samples; the next one's timestamp follows it. A later `rewrite` of a source continues."""
        self._source = None
        self._last_out_seq = (self._last_out_seq + 1) & 0xFFFF
        if self._last_now is not None:
            self._last_out_ts = (self._last_out_ts + self._last_samples) & 0xFFFFFFFF
        self._last_samples = samples
        self._last_now = now
        return self._last_out_seq, self._last_out_ts

    def next_sequence(self) -> int:
        """The sequence number of a packet inserted into the stream (a telephone event)."""
        self._last_out_seq = (self._last_out_seq + 1) & 0xFFFF
        return self._last_out_seq

    def current_timestamp(self) -> int:
        """The timestamp of the audio packet sent last (where an event that starts now is placed)."""
        return self._last_out_ts
