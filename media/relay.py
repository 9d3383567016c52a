"""The relay between two legs of a call: each direction either forwards packets (same codec and clock
on both sides: payload type mapped, SSRC/sequence/timestamp rewritten into our own stream) or transcodes
them (decode, resample, encode: opus <-> PCMU/PCMA), and carries RFC 4733 telephone events across either
way (payload type mapped, timestamp and duration moved to the other side's clock).

Packets whose payload type the source side did not negotiate (comfort noise, a second codec, RTCP that
was not demultiplexed) are dropped and counted. Nothing here touches a socket: legs hand packets in,
`send()` takes them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from media.codecs import Codec, Transcoder
from media.leg import MediaLeg
from media.rtp import RtpError, RtpPacket, StreamRewriter, build_rtp, parse_rtp


@dataclass
class DirectionStats:
    forwarded: int = 0
    transcoded_in: int = 0
    transcoded_out: int = 0
    events: int = 0
    dropped: int = 0


class Direction:
    """One way of the relay, `source` -> `target`; its `handle(data, now)` is the source's `on_rtp`."""

    def __init__(self, source: MediaLeg, target: MediaLeg, *, opus_complexity: int = 1) -> None:
        if source.codec is None or target.codec is None:
            raise ValueError("both legs need a negotiated codec before the relay starts")
        self.source, self.target = source, target
        self.source_codec: Codec = source.codec
        self.target_codec: Codec = target.codec
        self.stream = StreamRewriter(self.target_codec.clock_rate)
        self.forwarding = self.source_codec.key == self.target_codec.key
        self.transcoder = (
            None
            if self.forwarding
            else Transcoder(self.source_codec, self.target_codec, opus_complexity=opus_complexity)
        )
        self.stats = DirectionStats()
        self._event_in_ts: int | None = None
        self._event_out_ts = 0
        self._last_ssrc: int | None = None

    def handle(self, data: bytes, now: float) -> None:
        try:
            packet = parse_rtp(data)
        except RtpError:
            self.stats.dropped += 1
            return
        if packet.payload_type == self.source_codec.payload_type:
            self._audio(packet, now)
        elif (
            self.source.telephone_event is not None
            and packet.payload_type == self.source.telephone_event.payload_type
        ):
            self._event(packet, now)
        else:
            self.stats.dropped += 1

    def _audio(self, packet: RtpPacket, now: float) -> None:
        target = self.target_codec
        if self.transcoder is None:
            sequence, timestamp = self.stream.rewrite(packet.ssrc, packet.sequence, packet.timestamp, now)
            marker = packet.marker or packet.ssrc != self._last_ssrc  # a new source: jitter buffers resync
            self._last_ssrc = packet.ssrc
            self.target.send(
                build_rtp(
                    RtpPacket(
                        target.payload_type,
                        marker,
                        sequence,
                        timestamp,
                        self.stream.ssrc,
                        packet.payload,
                    )
                )
            )
            self.stats.forwarded += 1
            return
        self.stats.transcoded_in += 1
        for payload, samples in self.transcoder.transcode(packet.payload):
            sequence, timestamp = self.stream.next_own(samples, now)
            self.target.send(
                build_rtp(
                    RtpPacket(target.payload_type, False, sequence, timestamp, self.stream.ssrc, payload)
                )
            )
            self.stats.transcoded_out += 1

    def _event(self, packet: RtpPacket, now: float) -> None:
        """RFC 4733 section 2.5: every packet of one event carries the event's start timestamp and a
        growing duration; the end packet is sent three times. We place the event at our stream's current
        timestamp and scale durations to the target's telephone-event clock."""
        source_event, target_event = self.source.telephone_event, self.target.telephone_event
        if target_event is None or source_event is None or len(packet.payload) < 4:
            self.stats.dropped += 1
            return
        new = self._event_in_ts is None or packet.timestamp != self._event_in_ts
        if new:
            self._event_in_ts = packet.timestamp
            self._event_out_ts = self.stream.current_timestamp()
        payload = packet.payload
        if source_event.clock_rate != target_event.clock_rate:
            duration = (
                int.from_bytes(payload[2:4], "big") * target_event.clock_rate // source_event.clock_rate
            )
            payload = payload[:2] + min(duration, 0xFFFF).to_bytes(2, "big") + payload[4:]
        sequence = self.stream.next_sequence()
        self.target.send(
            build_rtp(
                RtpPacket(
                    target_event.payload_type,
                    new and packet.marker,
                    sequence,
                    self._event_out_ts,
                    self.stream.ssrc,
                    payload,
                )
            )
        )
        self.stats.events += 1


class Relay:
    """Both directions between `a` and `b`, wired to the legs' `on_rtp` by `start()`."""

    def __init__(self, a: MediaLeg, b: MediaLeg, *, opus_complexity: int = 1) -> None:
        self.a, self.b = a, b
        self.a_to_b = Direction(a, b, opus_complexity=opus_complexity)
        self.b_to_a = Direction(b, a, opus_complexity=opus_complexity)

    @property
    def transcoding(self) -> bool:
        return not self.a_to_b.forwarding

    def start(self) -> None:
        self.a.on_rtp = self.a_to_b.handle
        self.b.on_rtp = self.b_to_a.handle

    def stop(self) -> None:
        self.a.on_rtp = None
        self.b.on_rtp = None
