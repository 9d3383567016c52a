"""RTCP reports (RFC 3550 section 6.4), checked by aiortc's own RTCP parser (an independent reading)."""

from __future__ import annotations

from aiortc.rtp import RtcpPacket, RtcpRrPacket, RtcpSdesPacket, RtcpSrPacket

from media.rtcp import ReceiveStats, SendStats, compound_report, ntp_time
from media.rtp import RtpPacket, build_rtp


def test_sender_report_with_a_block_on_what_we_receive() -> None:
    receive, send = ReceiveStats(8000), SendStats()
    for seq in (65534, 65535, 0, 1):  # none lost, the sequence wraps
        receive.update(build_rtp(RtpPacket(0, False, seq, seq * 160, 0xABC, b"x" * 160)), now=seq * 0.02 % 2)
    for seq in range(10):
        send.update(build_rtp(RtpPacket(111, False, seq, 960 * seq, 0xDEF, b"y" * 50)), now=1.0)
    packets = RtcpPacket.parse(compound_report(send, receive, 48000, now=1.0, unix=1_700_000_000.5) or b"")
    sr, sdes = packets
    assert isinstance(sr, RtcpSrPacket) and isinstance(sdes, RtcpSdesPacket)
    assert sr.ssrc == 0xDEF and sr.sender_info.packet_count == 10 and sr.sender_info.octet_count == 500
    assert (sr.sender_info.ntp_timestamp >> 32) == 1_700_000_000 + 2208988800
    (block,) = sr.reports
    assert block.ssrc == 0xABC and block.packets_lost == 0
    assert block.highest_sequence == 0x10000 + 1
    assert sdes.chunks[0].items[0][1] == b"coin-gateway"


def test_losses_and_the_last_sender_report() -> None:
    receive = ReceiveStats(8000)
    for seq in (10, 11, 14):  # 12 and 13 lost
        receive.update(build_rtp(RtpPacket(0, False, seq, seq * 160, 7, b"")), now=0.0)
    ntp = ntp_time(1_700_000_000.25)
    peer_sr = bytes([0x80, 200, 0, 6]) + (7).to_bytes(4, "big") + ntp.to_bytes(8, "big") + bytes(12)
    receive.sender_report_received(peer_sr, now=10.0)
    (rr, _) = RtcpPacket.parse(compound_report(SendStats(), receive, 8000, now=10.5) or b"")
    assert isinstance(rr, RtcpRrPacket)
    (block,) = rr.reports
    assert block.packets_lost == 2 and block.fraction_lost == 2 * 256 // 5
    assert block.lsr == (ntp >> 16) & 0xFFFFFFFF and block.dlsr == 32768  # 0.5 s in 1/65536 s


def test_nothing_to_report_yet() -> None:
    assert compound_report(SendStats(), ReceiveStats(8000), 8000, now=0.0) is None
