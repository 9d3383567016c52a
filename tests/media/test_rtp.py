"""RTP bytes, RFC 4733 events and the rewriting of one outgoing stream (sans-IO)."""

from __future__ import annotations

import struct

import pytest

from media.rtp import (
    RtpError,
    RtpPacket,
    StreamRewriter,
    TelephoneEvent,
    build_rtp,
    build_telephone_event,
    is_rtcp,
    parse_rtp,
    parse_telephone_event,
)


def test_round_trip() -> None:
    packet = RtpPacket(111, True, 65535, 0xFFFFFFFF, 0x12345678, b"opus")
    assert parse_rtp(build_rtp(packet)) == packet


def test_csrcs_extension_and_padding_are_skipped() -> None:
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 0, 1, 2, 3) + b"\0\0\0\1" * 2
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\x10\xff\0\0"
    packet = parse_rtp(header + extension + b"payload" + b"\0\0\x03")
    assert packet.payload == b"payload"


@pytest.mark.parametrize("data", [b"", b"\x80" * 11, b"\x40" + b"\0" * 11, b"\xa0\0" + b"\0" * 10])
def test_not_rtp(data: bytes) -> None:
    with pytest.raises(RtpError):
        parse_rtp(data)


def test_rtcp_is_told_apart_by_packet_type() -> None:
    assert is_rtcp(b"\x80\xc8" + b"\0" * 26)  # sender report
    assert not is_rtcp(build_rtp(RtpPacket(0, False, 1, 1, 1, b"")))
    assert not is_rtcp(build_rtp(RtpPacket(111, True, 1, 1, 1, b"")))  # marker + 111 = 0xef: not RTCP


def test_telephone_event() -> None:
    event = TelephoneEvent(11, True, 10, 1600)
    assert parse_telephone_event(build_telephone_event(event)) == event
    assert event.digit == "#"


def test_rewriter_keeps_our_stream_continuous_across_a_source_change() -> None:
    stream = StreamRewriter(8000, ssrc=7)
    first = [stream.rewrite(0xAAAA, seq, seq * 160, now=(seq - 100) * 0.02) for seq in range(100, 103)]
    assert [s for s, _ in first] == [(first[0][0] + i) & 0xFFFF for i in range(3)]
    assert [t - first[0][1] for _, t in first] == [0, 160, 320]
    # the source restarts with a new SSRC and random numbers, 1 s later
    seq, ts = stream.rewrite(0xBBBB, 5, 999_999, now=0.04 + 1.0)
    assert seq == (first[-1][0] + 1) & 0xFFFF
    assert (ts - first[-1][1]) & 0xFFFFFFFF == 8000
    # reordering inside a source is kept as is
    late = stream.rewrite(0xBBBB, 4, 999_999 - 160, now=1.05)
    assert late == ((seq - 1) & 0xFFFF, (ts - 160) & 0xFFFFFFFF)


def test_own_packets_advance_by_their_samples() -> None:
    stream = StreamRewriter(48000, ssrc=7)
    a = stream.next_own(960, 0.0)
    b = stream.next_own(960, 0.02)
    assert ((b[0] - a[0]) & 0xFFFF, (b[1] - a[1]) & 0xFFFFFFFF) == (1, 960)
    assert stream.current_timestamp() == b[1]
