"""The relay between two legs, with legs that only record what they are given (no sockets)."""

from __future__ import annotations

import itertools

import av

from media.call import MediaCall
from media.codecs import DTMF_8K, DTMF_48K, OPUS, PCMU, Codec
from media.leg import MediaLeg
from media.relay import Relay
from media.rtp import (
    RtpPacket,
    TelephoneEvent,
    build_rtp,
    build_telephone_event,
    parse_rtp,
    parse_telephone_event,
)
from tests.media.tone import sine, spectrum_peak


class RecordingLeg(MediaLeg):
    def __init__(self, codec: Codec, event: Codec | None) -> None:
        super().__init__()
        self.set_codecs(codec, event)
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> None:
        if self.sending:
            self.sent.append(data)

    async def close(self) -> None:
        self.closed = True


def pcmu_payloads(frequency: float, count: int) -> list[bytes]:
    encoder = av.CodecContext.create("pcm_mulaw", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 8000, "mono", "s16"  # type: ignore[attr-defined]
    out = []
    for i in range(count):
        frame = av.AudioFrame(format="s16", layout="mono", samples=160)
        frame.planes[0].update(sine(frequency, 8000, i * 160, 160))
        frame.sample_rate, frame.pts = 8000, i * 160
        out += [bytes(p) for p in encoder.encode(frame)]
    return out


def test_forwarding_maps_payload_type_and_rewrites_the_stream() -> None:
    a = RecordingLeg(OPUS, DTMF_48K)
    b = RecordingLeg(Codec("opus", 48000, 96, 2), None)
    relay = Relay(a, b)
    relay.start()
    assert not relay.transcoding
    for i in range(3):
        a.on_rtp(build_rtp(RtpPacket(111, i == 0, 1000 + i, 5000 + 960 * i, 0xAB, b"frame%d" % i)), i * 0.02)  # type: ignore[misc]
    packets = [parse_rtp(p) for p in b.sent]
    assert [p.payload_type for p in packets] == [96, 96, 96]
    assert [p.payload for p in packets] == [b"frame0", b"frame1", b"frame2"]
    assert {p.ssrc for p in packets} == {relay.a_to_b.stream.ssrc} and packets[0].ssrc != 0xAB
    assert [(p.timestamp - packets[0].timestamp) & 0xFFFFFFFF for p in packets] == [0, 960, 1920]
    assert packets[0].marker and not packets[1].marker


def test_transcoding_pcmu_to_opus_and_back_keeps_the_tone() -> None:
    sip, jingle = RecordingLeg(PCMU, DTMF_8K), RecordingLeg(OPUS, DTMF_48K)
    relay = Relay(sip, jingle)
    relay.start()
    assert relay.transcoding
    for i, payload in enumerate(pcmu_payloads(440, 100)):
        sip.on_rtp(build_rtp(RtpPacket(0, False, i, i * 160, 1, payload)), i * 0.02)  # type: ignore[misc]
    opus = [parse_rtp(p) for p in jingle.sent]
    assert len(opus) >= 95 and {p.payload_type for p in opus} == {111}
    assert {(b.timestamp - a.timestamp) & 0xFFFFFFFF for a, b in itertools.pairwise(opus)} == {960}
    # and back through a second relay, as the far side would decode it
    far = RecordingLeg(PCMU, None)
    back = Relay(RecordingLeg(OPUS, None), far)
    back.start()
    for p in opus:
        back.a.on_rtp(build_rtp(p), 0.0)  # type: ignore[misc]
    samples: list[int] = []
    decoder = av.CodecContext.create("pcm_mulaw", "r")
    decoder.sample_rate, decoder.layout, decoder.format = 8000, "mono", "s16"  # type: ignore[attr-defined]
    for data in far.sent:
        for frame in decoder.decode(av.Packet(parse_rtp(data).payload)):
            samples += memoryview(bytes(frame.planes[0])[: frame.samples * 2]).cast("h").tolist()
    frequency, share, _ = spectrum_peak(samples, 8000)
    assert abs(frequency - 440) < 2 and share > 0.9


def test_telephone_events_cross_clock_rates() -> None:
    sip, jingle = RecordingLeg(PCMU, DTMF_8K), RecordingLeg(OPUS, DTMF_48K)
    relay = Relay(sip, jingle)
    relay.start()
    for step, end in ((1, False), (2, False), (3, True), (3, True), (3, True)):
        payload = build_telephone_event(TelephoneEvent(5, end, 10, step * 160))
        sip.on_rtp(build_rtp(RtpPacket(101, step == 1, 10 + step, 8000, 9, payload)), step * 0.02)  # type: ignore[misc]
    events = [parse_rtp(p) for p in jingle.sent]
    assert {p.payload_type for p in events} == {126}
    assert len({p.timestamp for p in events}) == 1  # one event: one timestamp
    assert [parse_telephone_event(p.payload).duration for p in events] == [960, 1920, 2880, 2880, 2880]
    assert len({p.sequence for p in events}) == 5


def test_events_are_dropped_when_the_other_side_has_no_telephone_event() -> None:
    sip, jingle = RecordingLeg(PCMU, DTMF_8K), RecordingLeg(OPUS, None)
    relay = Relay(sip, jingle)
    relay.start()
    sip.on_rtp(
        build_rtp(RtpPacket(101, True, 1, 1, 1, build_telephone_event(TelephoneEvent(1, False, 10, 160)))),
        0.0,
    )  # type: ignore[misc]
    sip.on_rtp(build_rtp(RtpPacket(13, False, 2, 2, 1, b"\x40")), 0.0)  # type: ignore[misc]  # comfort noise
    assert jingle.sent == [] and relay.a_to_b.stats.dropped == 2


def test_a_leg_on_hold_gets_nothing() -> None:
    a, b = RecordingLeg(OPUS, None), RecordingLeg(OPUS, None)
    b.sending = False
    Relay(a, b).start()
    a.on_rtp(build_rtp(RtpPacket(111, False, 1, 1, 1, b"x")), 0.0)  # type: ignore[misc]
    assert b.sent == []


def test_a_new_source_is_marked_and_a_renegotiation_rebuilds_the_relay() -> None:
    a, b = RecordingLeg(OPUS, None), RecordingLeg(OPUS, None)
    call = MediaCall(a, b)
    call.relay.start()
    a.on_rtp(build_rtp(RtpPacket(111, False, 1, 960, 0xA, b"x")), 0.0)  # type: ignore[misc]
    a.on_rtp(build_rtp(RtpPacket(111, False, 2, 1920, 0xA, b"x")), 0.02)  # type: ignore[misc]
    a.on_rtp(build_rtp(RtpPacket(111, False, 70, 5, 0xB, b"x")), 0.04)  # type: ignore[misc]
    assert [parse_rtp(p).marker for p in b.sent] == [True, False, True]
    b.set_codecs(PCMU)  # the far side re-INVITEd to PCMU
    call.renegotiated()
    assert call.relay.transcoding and a.on_rtp == call.relay.a_to_b.handle
